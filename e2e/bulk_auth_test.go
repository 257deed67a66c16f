package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// $export with authorization on: Backend Services tokens from the server's
// own token endpoint; system/ (and user/) read scopes decide what an
// export holds; status and file URLs answer only the client that started
// the export, and only with a token.
func TestBulkAuth(t *testing.T) {
	forEachStoreAuth(t, func(t *testing.T, s *Server, kind, dataDir string) {
		dev := newDevSigner(t, s, dataDir)
		admin := dev.Token(t, "system/*.*", "")
		pids, iids := seedBulk(t, s, 4, 2, bearer(admin)...)
		s.Do(t, "PUT", "Organization/bo1", `{"resourceType":"Organization","id":"bo1","name":"Clinic"}`, bearer(admin)...).Expect(t, 201)
		s.Do(t, "PUT", "Immunization/bnd", withID(strings.Replace(immunization("Patient/bp0", "08", "2022-02-02"), `"completed"`, `"not-done"`, 1), "bnd"),
			bearer(admin)...).Expect(t, 201)

		dbArgs := []string{"--data-dir", dataDir}
		if kind == "postgres" {
			dbArgs = append(dbArgs, "--database-url", serverDatabaseURL(t, s))
		}
		tokenFor := func(id, scope string) string {
			c := newBackendClient(t, id, "ES384")
			if out, stderr, code := cli(t, append([]string{"client", "add", "--id", c.ID, "--jwks-file", c.jwksFile(t), "--scope", scope}, dbArgs...)); code != 0 {
				t.Fatalf("client add: %d %s %s", code, out, stderr)
			}
			tokenURL := s.Root + "/auth/token"
			r := s.Do(t, "POST", tokenURL, tokenForm(c.assertion(t, tokenURL, nil), scope), "Content-Type", "application/x-www-form-urlencoded").Expect(t, 200)
			var tr struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.Unmarshal(r.Body, &tr); err != nil {
				t.Fatal(err)
			}
			return tr.AccessToken
		}
		analyst := tokenFor("bulk-analyst", "system/Patient.rs system/Immunization.rs")
		other := tokenFor("bulk-other", "system/Patient.rs")

		// No token, no export.
		s.Do(t, "GET", "$export", nil, "Prefer", "respond-async").Expect(t, 401)
		// Asking for a type the scopes do not cover is refused outright.
		s.Do(t, "GET", "$export?_type=Organization", nil, append(bearer(analyst), "Prefer", "respond-async")...).Expect(t, 403)

		c := exportClient{s: s, headers: bearer(analyst)}
		status := c.kickOff(t, "GET", "$export", nil)
		m, _ := c.wait(t, status)
		if !m.RequiresAccessToken {
			t.Error("requiresAccessToken false with auth on")
		}
		got := c.all(t, m)
		if len(got) != 2 || !slices.Equal(sortedCopy(got["Patient"]), sortedCopy(pids)) || len(got["Immunization"]) != len(iids)+1 {
			t.Errorf("without _type, the readable types: %v", got)
		}

		// The status and files answer only this client, and only with a token.
		s.Do(t, "GET", status, nil).Expect(t, 401)
		s.Do(t, "GET", status, nil, bearer(other)...).Expect(t, 403)
		s.Do(t, "GET", m.Output[0].URL, nil).Expect(t, 401)
		s.Do(t, "GET", m.Output[0].URL, nil, bearer(other)...).Expect(t, 403)
		s.Do(t, "DELETE", status, nil, bearer(other)...).Expect(t, 403)

		// Granular and user/ scopes (dev tokens carry any scope); patient/
		// scopes are for apps acting for one patient, not for bulk access.
		granular := exportClient{s: s, headers: bearer(dev.Token(t, "system/Immunization.rs?status=completed", ""))}
		m, _ = granular.wait(t, granular.kickOff(t, "GET", "$export?_type=Immunization", nil))
		if g := granular.all(t, m)["Immunization"]; len(g) != len(iids) || slices.Contains(g, "bnd") {
			t.Errorf("granular scope: %v", g)
		}
		user := exportClient{s: s, headers: bearer(dev.Token(t, "user/Patient.read", ""))}
		m, _ = user.wait(t, user.kickOff(t, "GET", "Patient/$export", nil))
		if g := user.all(t, m); len(g) != 1 || len(g["Patient"]) != len(pids) {
			t.Errorf("user/ scope: %v", g)
		}
		s.Do(t, "GET", "Patient/$export", nil, append(bearer(dev.Token(t, "patient/*.rs", "bp0")), "Prefer", "respond-async")...).Expect(t, 403)
	})
}

// forEachStoreAuth runs f against a dev-auth server on every store.
func forEachStoreAuth(t *testing.T, f func(t *testing.T, s *Server, kind, dataDir string)) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s, dir := startAuth(t, kind, []string{"--auth", "dev"})
			f(t, s, kind, dir)
		})
	}
}
