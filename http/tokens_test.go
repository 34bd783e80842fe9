package http_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/internal/enginetest"
	"github.com/heraldhq/herald/postgres"
	"github.com/heraldhq/herald/sqlite"
)

// revocationBound is how soon a token revoked elsewhere (another node, a
// command run beside the server, SQL typed by hand) must fail: the service
// reads the token revision every 100 ms; the rest is slack for a loaded
// machine.
const revocationBound = time.Second

// refusedWithin waits until the token is refused with 401 and fails the
// test if that takes longer than bound (or if anything but 200 or 401
// comes back meanwhile).
func refusedWithin(t *testing.T, bound time.Duration, request func() *response) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		r := request()
		switch {
		case r.Status == 401:
			return time.Since(start)
		case r.Status != 200:
			t.Fatalf("status %d while waiting for the token to be refused: %s", r.Status, r.Body)
		case time.Since(start) > bound:
			t.Fatalf("the revoked token still works %s later", time.Since(start).Round(time.Millisecond))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tokenOf returns the id of the token with the given name in a listing.
func tokenOf(t *testing.T, list []map[string]any, name string) string {
	t.Helper()
	for _, tok := range list {
		if tok["name"] == name {
			return localID(tok["id"])
		}
	}
	t.Fatalf("no token named %q in %v", name, list)
	return ""
}

func (a *api) tokens(t *testing.T) []map[string]any {
	t.Helper()
	var list []map[string]any
	a.do("GET", "/tokens", nil).must(t, 200).JSON(t, &list)
	for _, tok := range list {
		if _, ok := tok["token"]; ok {
			t.Fatalf("a listing shows a token's secret: %v", tok)
		}
	}
	return list
}

// An app's tokens through its API: created with a name, the secret shown
// once; listed without it; revoked, after which the token fails from the
// very next request, on the node that revoked it.
func TestTokens(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		list := a.tokens(t)
		if len(list) != 1 || list[0]["name"] != "default" || list[0]["prefix"] != a.Token[:9] {
			t.Fatalf("a new app's tokens: %v, want its first token, named default, with prefix %s", list, a.Token[:9])
		}

		created := a.do("POST", "/tokens", map[string]any{"name": "deploy bot"}).must(t, 201).Map(t)
		secret, _ := created["token"].(string)
		id := localID(created["id"])
		if !strings.HasPrefix(secret, "hrld_") || created["prefix"] != secret[:9] || created["name"] != "deploy bot" ||
			created["id"] != "layer:///apps/"+a.AppID+"/tokens/"+id || created["url"] != a.URL+"/apps/"+a.AppID+"/tokens/"+id ||
			created["last_used_at"] != nil || created["created_at"] == nil {
			t.Fatalf("created token: %v", created)
		}
		a.doAs(secret, "GET", "/conversations", nil).must(t, 200)
		list = a.tokens(t)
		if len(list) != 2 || tokenOf(t, list, "deploy bot") != id {
			t.Fatalf("tokens after one was created: %v", list)
		}

		a.do("DELETE", "/tokens/"+id, nil).must(t, 204)
		a.doAs(secret, "GET", "/conversations", nil).wantError(t, 401, "authentication_required", "")
		if list = a.tokens(t); len(list) != 1 || localID(list[0]["id"]) == id {
			t.Fatalf("tokens after the revocation: %v", list)
		}
		a.do("DELETE", "/tokens/"+id, nil).wantError(t, 404, "not_found", "")

		// Layer-style ids are taken as well as bare ones.
		other := a.do("POST", "/tokens", map[string]any{"name": "other"}).must(t, 201).Map(t)
		a.do("DELETE", "/tokens/"+url.PathEscape(other["id"].(string)), nil).must(t, 204)
		a.doAs(other["token"].(string), "GET", "/conversations", nil).must(t, 401)
	})
}

// A token may revoke itself, but an app cannot revoke its last token
// through the API: it would lock itself out (the operator's command can).
func TestTokenRevokesItselfButNotTheLast(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		first := tokenOf(t, a.tokens(t), "default")
		a.do("DELETE", "/tokens/"+first, nil).wantError(t, 422, "invalid_operation", "")
		a.do("GET", "/conversations", nil).must(t, 200)

		second := a.do("POST", "/tokens", map[string]any{"name": "second"}).must(t, 201).Map(t)["token"].(string)
		a.do("DELETE", "/tokens/"+first, nil).must(t, 204)
		a.do("GET", "/conversations", nil).wantError(t, 401, "authentication_required", "")
		a.Token = second
		list := a.tokens(t)
		if len(list) != 1 || list[0]["name"] != "second" {
			t.Fatalf("tokens left: %v", list)
		}
		a.do("DELETE", "/tokens/"+localID(list[0]["id"]), nil).wantError(t, 422, "invalid_operation", "")
	})
}

// An app sees and revokes its own tokens only: another app's token id is
// not found, exactly as an unknown one, and stays valid.
func TestTokensOfAnotherApp(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		appB, tokenB := a.newApp("b")
		pathB := a.URL + "/apps/" + appB + "/tokens"
		var listB []map[string]any
		a.doAs(tokenB, "GET", pathB, nil).must(t, 200).JSON(t, &listB)
		idB := localID(listB[0]["id"])
		a.doAs(tokenB, "POST", pathB, map[string]any{"name": "spare"}).must(t, 201)

		a.do("DELETE", "/tokens/"+idB, nil).wantError(t, 404, "not_found", "")
		for _, id := range []string{"00000000-0000-4000-8000-000000000000", "not-a-uuid", "%00", "%ff%fe"} {
			a.do("DELETE", "/tokens/"+id, nil).wantError(t, 404, "not_found", "")
		}
		a.do("GET", pathB, nil).wantError(t, 404, "not_found", "")
		a.do("POST", pathB, map[string]any{"name": "intruder"}).wantError(t, 404, "not_found", "")
		a.do("DELETE", pathB+"/"+idB, nil).wantError(t, 404, "not_found", "")
		a.doAs(tokenB, "GET", pathB, nil).must(t, 200).JSON(t, &listB)
		if len(listB) != 2 {
			t.Fatalf("app b's tokens: %v", listB)
		}
		if list := a.tokens(t); len(list) != 1 || list[0]["name"] != "default" {
			t.Fatalf("app a's tokens: %v", list)
		}
	})
}

// A token's name is required, at most 100 characters, without control
// characters; a refused one, or a body that is not JSON, creates nothing.
func TestTokenNames(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		for body, wantID := range map[string]string{
			`{}`:               "missing_property",
			`{"name": ""}`:     "missing_property",
			`{"name": " \t "}`: "missing_property",
			`{"name": null}`:   "missing_property",
			`{"name": 5}`:      "invalid_property",
			`{"name": "` + strings.Repeat("x", 101) + `"}`: "invalid_property",
			`{"name": "a\u0000b"}`:                         "invalid_property",
			`{"name": "line\nbreak"}`:                      "invalid_property",
			`{"name": "c1\u0085"}`:                         "invalid_property",
			`{"name": "del\u007f"}`:                        "invalid_property",
		} {
			a.do("POST", "/tokens", body).wantError(t, 422, wantID, "name")
		}
		for _, body := range []string{`{"name": `, `[]`, `"x"`, ``} {
			a.do("POST", "/tokens", body).wantError(t, 400, "invalid_request", "")
		}
		if list := a.tokens(t); len(list) != 1 {
			t.Fatalf("refused names created tokens: %v", list)
		}
		long := strings.Repeat("é", 100)
		if got := a.do("POST", "/tokens", map[string]any{"name": long}).must(t, 201).Map(t); got["name"] != long {
			t.Fatalf("a name of 100 characters came back as %v", got["name"])
		}
	})
}

// Requests racing with a revocation may go either way; every request sent
// after the revocation's answer is refused.
func TestRevokedTokenFailsFromTheNextRequest(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		created := a.do("POST", "/tokens", map[string]any{"name": "busy"}).must(t, 201).Map(t)
		secret := created["token"].(string)
		var revoked sync.WaitGroup
		revoked.Add(1)
		var revokedAt time.Time
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var late []string
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					sent := time.Now()
					r := a.doAs(secret, "GET", "/conversations", nil)
					mu.Lock()
					if r.Status == 200 && !revokedAt.IsZero() && sent.After(revokedAt) {
						late = append(late, fmt.Sprintf("sent %s after the revocation", sent.Sub(revokedAt)))
					}
					mu.Unlock()
				}
			}()
		}
		time.Sleep(50 * time.Millisecond)
		a.do("DELETE", "/tokens/"+localID(created["id"]), nil).must(t, 204)
		mu.Lock()
		revokedAt = time.Now()
		mu.Unlock()
		time.Sleep(300 * time.Millisecond)
		close(stop)
		wg.Wait()
		if len(late) > 0 {
			t.Fatalf("%d requests sent after the revocation succeeded, the first %s", len(late), late[0])
		}
	})
}

// A token's last use shows in the listing once written (here every 50 ms;
// a minute by default).
func TestTokenLastUsed(t *testing.T) {
	t.Parallel()
	for _, e := range engines {
		t.Run(e.Name, func(t *testing.T) {
			a := startAPI(t, e.Open(t), func(srv *heraldhttp.Server) { srv.Service.TokenUseInterval = 50 * time.Millisecond })
			created := a.do("POST", "/tokens", map[string]any{"name": "used"}).must(t, 201).Map(t)
			id := localID(created["id"])
			lastUsed := func() any {
				for _, tok := range a.tokens(t) {
					if localID(tok["id"]) == id {
						return tok["last_used_at"]
					}
				}
				t.Fatal("the token is gone")
				return nil
			}
			time.Sleep(150 * time.Millisecond)
			if got := lastUsed(); got != nil {
				t.Fatalf("a token never used has last_used_at %v", got)
			}
			before := time.Now().Truncate(time.Millisecond)
			a.doAs(created["token"].(string), "GET", "/conversations", nil).must(t, 200)
			after := time.Now()
			var got any
			eventually(t, func() bool { got = lastUsed(); return got != nil }, "the last use to be written")
			at, err := time.Parse(herald.TimeFormat, got.(string))
			if err != nil || at.Before(before) || at.After(after) {
				t.Fatalf("last_used_at %v, want between %s and %s", got, before, after)
			}
		})
	}
}

// storeWithSQL opens a store of each engine together with a database
// handle of its own on the same data, to change it behind Herald's back.
var storesWithSQL = []struct {
	name string
	open func(t *testing.T) (herald.Store, *sql.DB)
}{
	{"sqlite", func(t *testing.T) (herald.Store, *sql.DB) {
		path := enginetest.SQLitePath(t)
		s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return s, db
	}},
	{"postgres", func(t *testing.T) (herald.Store, *sql.DB) {
		url := enginetest.PostgresURL(t)
		s, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return s, db
	}},
}

// A token whose row is deleted by hand, with SQL, stops working within
// the bound, though the server validated and cached it before.
func TestTokenDeletedByHandStopsWorking(t *testing.T) {
	t.Parallel()
	for _, e := range storesWithSQL {
		t.Run(e.name, func(t *testing.T) {
			store, db := e.open(t)
			a := startAPI(t, store)
			a.do("GET", "/conversations", nil).must(t, 200)
			hash := sha256.Sum256([]byte(a.Token))
			res, err := db.Exec(`DELETE FROM app_tokens WHERE hash = $1`, hex.EncodeToString(hash[:]))
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("deleted %d rows", n)
			}
			took := refusedWithin(t, revocationBound, func() *response { return a.do("GET", "/conversations", nil) })
			t.Logf("refused %s after the row was deleted", took.Round(time.Millisecond))
		})
	}
}

// A token revoked on one node fails on another node sharing its
// PostgreSQL database within the bound, though that node validated and
// cached it before.
func TestRevokedTokenFailsOnEveryNode(t *testing.T) {
	t.Parallel()
	url := enginetest.PostgresURL(t)
	a := startAPI(t, openNode(t, url))
	b := startAPI(t, openNode(t, url))
	created := a.do("POST", "/tokens", map[string]any{"name": "everywhere"}).must(t, 201).Map(t)
	secret := created["token"].(string)
	onB := func() *response { return b.doAs(secret, "GET", b.URL+"/apps/"+a.AppID+"/conversations", nil) }
	onB().must(t, 200)
	a.do("DELETE", "/tokens/"+localID(created["id"]), nil).must(t, 204)
	a.doAs(secret, "GET", "/conversations", nil).must(t, 401)
	took := refusedWithin(t, revocationBound, onB)
	t.Logf("refused by the other node %s after the revocation", took.Round(time.Millisecond))
}
