package http_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// A change reaching many sockets is read and rendered once for all of
// them, yet each socket gets what its user sees in its version: the
// message and the conversation as the Client API's REST answers them to
// that user, is_unread and unread_message_count their own, and nothing of
// a message hidden from them.
func TestClientSocketFanOut(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		alice, bob, carol := startSession(t, a, "alice"), startSession(t, a, "bob"), startSession(t, a, "carol")
		const v30 = "application/vnd.layer+json; version=3.0"
		type device struct {
			name   string
			c      *client
			w      *wsClient
			accept string
		}
		devices := []device{
			{"alice", alice, dialSocket(t, a.URL, alice.token), ""},
			{"bob 2.0", bob, dialSocket(t, a.URL, bob.token), ""},
			{"bob 3.0", bob, dialSocketProto(t, a.URL, bob.token, "layer-3.0"), v30},
			{"carol", carol, dialSocket(t, a.URL, carol.token), ""},
		}
		// What carol's devices get of alice's messages is hidden from her.
		if err := a.Service.Block(context.Background(), a.AppID, "carol", "alice"); err != nil {
			t.Fatal(err)
		}
		conv := alice.do("POST", "conversations", map[string]any{"participants": []string{"bob", "carol"}}).must(t, 201).Map(t)["id"].(string)
		convPath := "conversations/" + strings.TrimPrefix(conv, "layer:///conversations/")
		rest := func(d device, path string) map[string]any {
			t.Helper()
			return d.c.do("GET", path, nil, "Accept", d.accept).must(t, 200).Map(t)
		}
		for _, d := range devices {
			got := d.w.until(isChange("create", conv))["body"].(map[string]any)["data"]
			if want := rest(d, convPath); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: conversation %v, as REST has it %v", d.name, got, want)
			}
		}

		send := func(from *client, text string) (id, path string) {
			t.Helper()
			id = from.do("POST", convPath+"/messages", map[string]any{"parts": textPart(text)}).must(t, 201).Map(t)["id"].(string)
			return id, "messages/" + strings.TrimPrefix(id, "layer:///messages/")
		}
		type want struct {
			d        device
			unread   bool
			count    float64
			notAfter string
		}
		// Each message's packets are checked before the next is sent: a
		// socket renders what the store says as it writes.
		check := func(m, path string, wants ...want) {
			t.Helper()
			for _, c := range wants {
				got := c.d.w.until(isChange("create", m))["body"].(map[string]any)["data"].(map[string]any)
				rendered := rest(c.d, path)
				if got["is_unread"] != c.unread || !reflect.DeepEqual(got, rendered) {
					t.Fatalf("%s: message %v, as REST has it %v (is_unread %v)", c.d.name, got, rendered, c.unread)
				}
				if c.count < 0 {
					c.count = rest(c.d, convPath)["unread_message_count"].(float64)
				}
				ops := c.d.w.until(isChange("update", conv))["body"].(map[string]any)["data"].([]any)
				last, count := ops[0].(map[string]any), ops[1].(map[string]any)
				if last["property"] != "last_message" || last["id"] != m || !reflect.DeepEqual(last["value"], rendered) ||
					count["property"] != "unread_message_count" || count["value"] != c.count {
					t.Fatalf("%s: conversation update after %s: %v", c.d.name, m, ops)
				}
				if c.notAfter != "" {
					for _, p := range c.d.w.skipped {
						if isChange("create", c.notAfter)(p) {
							t.Fatalf("%s got %s, hidden from them: %v", c.d.name, c.notAfter, p)
						}
					}
				}
			}
		}
		m1, m1Path := send(alice, "one")
		check(m1, m1Path, want{devices[0], false, 0, ""}, want{devices[1], true, 1, ""}, want{devices[2], true, 1, ""})
		m2, m2Path := send(bob, "two")
		// Carol's count is her inbox's, whatever it counts (-1: as REST
		// has it).
		check(m2, m2Path, want{devices[0], true, 1, ""}, want{devices[1], false, 1, ""}, want{devices[2], false, 1, ""},
			want{devices[3], true, -1, m1})

		// Carol reads bob's message: everyone hears of it, and she of her
		// unread count.
		before := rest(devices[3], convPath)["unread_message_count"].(float64)
		carol.do("POST", m2Path+"/receipts", map[string]any{"type": "read"}).must(t, 204)
		for _, d := range devices {
			up := d.w.until(isChange("update", m2))["body"].(map[string]any)["data"].([]any)[0].(map[string]any)
			if up["property"] != `recipient_status.layer:///identities/carol` || up["value"] != "read" {
				t.Fatalf("%s: receipt %v", d.name, up)
			}
		}
		up := devices[3].w.until(isChange("update", conv))["body"].(map[string]any)["data"].([]any)[0].(map[string]any)
		if up["property"] != "unread_message_count" || up["value"] != before-1 ||
			up["value"] != rest(devices[3], convPath)["unread_message_count"] {
			t.Fatalf("carol's unread count after reading: %v", up)
		}
	})
}

// An identity's changes, and with Presence.subscribe a user's presence,
// reach the sockets of the user and of those who know them (sharing a
// conversation, following them), read once for all of them; a stranger's
// sockets hear nothing of them.
func TestClientSocketIdentityFanOut(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		alice, bob, dave := startSession(t, a, "alice"), startSession(t, a, "bob"), startSession(t, a, "dave")
		alice.do("POST", "conversations", map[string]any{"participants": []string{"bob"}}).must(t, 201)
		sockets := map[string]*wsClient{}
		for _, c := range []*client{alice, bob, dave} {
			w := dialSocket(t, a.URL, c.token)
			if r := w.request("Presence.subscribe", "", nil); r["success"] != true {
				t.Fatalf("Presence.subscribe: %v", r)
			}
			sockets[c.user] = w
		}
		const aliceID = "layer:///identities/alice"
		a.do("PUT", "/users/alice/identity", map[string]any{"display_name": "Alice A"}).must(t, 204)
		for _, u := range []string{"alice", "bob"} {
			ops := sockets[u].until(isChange("update", aliceID))["body"].(map[string]any)["data"].([]any)
			found := false
			for _, op := range ops {
				o := op.(map[string]any)
				found = found || (o["property"] == "display_name" && o["value"] == "Alice A")
			}
			if !found {
				t.Fatalf("%s: alice's identity update %v", u, ops)
			}
		}
		if r := sockets["alice"].request("Presence.update", "", []map[string]any{{"operation": "set", "property": "status", "value": "invisible"}}); r["success"] != true {
			t.Fatalf("Presence.update: %v", r)
		}
		for u, want := range map[string]string{"alice": "invisible", "bob": "offline"} {
			ops := sockets[u].until(func(p map[string]any) bool {
				if !isChange("update", aliceID)(p) {
					return false
				}
				op := p["body"].(map[string]any)["data"].([]any)[0].(map[string]any)
				return op["property"] == "presence.status"
			})["body"].(map[string]any)["data"].([]any)
			if ops[0].(map[string]any)["value"] != want {
				t.Fatalf("%s sees alice's presence as %v, want %s", u, ops, want)
			}
		}
		// Dave's own change reaches him after alice's: nothing of hers
		// came before it.
		a.do("PUT", "/users/dave/identity", map[string]any{"display_name": "Dave D"}).must(t, 204)
		sockets["dave"].until(isChange("update", "layer:///identities/dave"))
		for _, p := range sockets["dave"].skipped {
			if isChange("update", aliceID)(p) {
				t.Fatalf("dave, a stranger, heard of alice: %v", p)
			}
		}
	})
}
