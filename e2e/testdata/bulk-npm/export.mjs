// A Bulk Data client built on fhir-kit-client (npm), run by
// e2e/bulk_npm_test.go against a real Immunis server: SMART Backend
// Services token (RS384 client assertion, token endpoint found through
// the server's .well-known/smart-configuration), kick-off with
// Prefer: respond-async, polling by Retry-After, and the download of every
// file. fhir-kit-client reads whole bodies as JSON, so the NDJSON files
// are fetched with Node's own fetch (which also undoes gzip).
//
// Input (environment): FHIR_BASE, CLIENT_ID, KEY_ID, KEY_PEM (PKCS#8),
// SCOPE. Output (stdout): one JSON object summing up what was exported.
import crypto from 'node:crypto';
import { Client } from 'fhir-kit-client';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const b64url = (buf) => Buffer.from(buf).toString('base64url');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function token(client) {
  const meta = await client.smartAuthMetadata();
  const tokenUrl = meta.tokenUrl.href;
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'RS384', typ: 'JWT', kid: env('KEY_ID') };
  const claims = { iss: env('CLIENT_ID'), sub: env('CLIENT_ID'), aud: tokenUrl, exp: now + 240, jti: crypto.randomUUID() };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const sig = crypto.sign('sha384', Buffer.from(input), crypto.createPrivateKey(env('KEY_PEM')));
  const res = await fetch(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: env('SCOPE'),
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: `${input}.${b64url(sig)}`,
    }),
  });
  if (!res.ok) throw new Error(`token endpoint: ${res.status} ${await res.text()}`);
  return (await res.json()).access_token;
}

// kickOff starts an export and returns its status URL.
async function kickOff(client, op) {
  const outcome = await client.operation({ ...op, options: { headers: { prefer: 'respond-async' } } });
  const res = Client.httpFor(outcome).response;
  if (res.status !== 202) throw new Error(`kick-off: ${res.status}`);
  return res.headers.get('content-location');
}

// poll waits for the manifest, as the server's Retry-After says.
async function poll(client, statusUrl) {
  for (let i = 0; i < 600; i++) {
    const body = await client.request(statusUrl);
    const res = Client.httpFor(body).response;
    if (res.status === 200) return body;
    if (res.status !== 202) throw new Error(`status: ${res.status}`);
    const wait = Number(res.headers.get('retry-after') || '1');
    await sleep(Math.min(wait, 1) * 1000);
  }
  throw new Error('export did not complete');
}

async function download(manifest, accessToken) {
  const ids = {};
  for (const item of manifest.output) {
    const res = await fetch(item.url, {
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/fhir+ndjson', 'accept-encoding': 'gzip' },
    });
    if (!res.ok) throw new Error(`${item.url}: ${res.status}`);
    if (res.headers.get('content-type') !== 'application/fhir+ndjson') throw new Error(`${item.url}: content-type ${res.headers.get('content-type')}`);
    const lines = (await res.text()).split('\n').filter((l) => l !== '');
    if (lines.length !== item.count) throw new Error(`${item.url}: ${lines.length} lines, manifest count ${item.count}`);
    for (const line of lines) {
      const r = JSON.parse(line);
      if (r.resourceType !== item.type) throw new Error(`${item.url}: a ${r.resourceType} in a ${item.type} file`);
      (ids[item.type] ||= []).push(r.id);
    }
  }
  return ids;
}

const client = new Client({ baseUrl: env('FHIR_BASE') });
const accessToken = await token(client);
client.bearerToken = accessToken;

const summary = {};
const runs = {
  patientGET: { name: 'export', resourceType: 'Patient', method: 'GET', input: { _type: 'Patient,Immunization' } },
  systemPOST: {
    name: 'export',
    input: { resourceType: 'Parameters', parameter: [{ name: '_type', valueString: 'Immunization' }, { name: '_outputFormat', valueString: 'ndjson' }] },
  },
};
for (const [name, op] of Object.entries(runs)) {
  const manifest = await poll(client, await kickOff(client, op));
  summary[name] = {
    transactionTime: manifest.transactionTime,
    requiresAccessToken: manifest.requiresAccessToken,
    files: manifest.output.length,
    ids: await download(manifest, accessToken),
  };
}
process.stdout.write(JSON.stringify(summary));
