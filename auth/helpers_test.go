package auth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// t0 is the fixed "now" of the tests.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// Key generation is slow; tests share keys.
var (
	keysOnce   sync.Once
	rsaKey     *rsa.PrivateKey
	rsaKey2    *rsa.PrivateKey
	ecKey384   *ecdsa.PrivateKey
	ecKey256   *ecdsa.PrivateKey
	keysGenErr error
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		if rsaKey, keysGenErr = rsa.GenerateKey(rand.Reader, 2048); keysGenErr != nil {
			return
		}
		if rsaKey2, keysGenErr = rsa.GenerateKey(rand.Reader, 2048); keysGenErr != nil {
			return
		}
		if ecKey384, keysGenErr = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); keysGenErr != nil {
			return
		}
		ecKey256, keysGenErr = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	})
	if keysGenErr != nil {
		t.Fatal(keysGenErr)
	}
}

// jwksJSON is a JWK Set with the public halves of keys, kid → key.
func jwksJSON(t testing.TB, keys map[string]crypto.Signer) []byte {
	t.Helper()
	var set jose.JSONWebKeySet
	for kid, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public(), KeyID: kid, Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signJWT signs claims with key under alg, with the given extra header.
func signJWT(t testing.TB, alg string, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(alg), claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", alg, err)
	}
	return s
}

// unsignedJWT builds an alg=none token.
func unsignedJWT(t testing.TB, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	h := map[string]any{"alg": "none", "typ": "JWT"}
	for k, v := range header {
		h[k] = v
	}
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb) + "."
}

// publicKeyPEM is the PEM encoding of a public key: the secret of the
// HS256 key-confusion attack.
func publicKeyPEM(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// readLocalKey reads the local issuer's private key from its directory.
func readLocalKey(t testing.TB, dir string) crypto.Signer {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "signing-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(crypto.Signer)
}

func jwkOf(key any, kid string) jose.JSONWebKey { return jose.JSONWebKey{Key: key, KeyID: kid} }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
