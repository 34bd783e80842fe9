package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// routeBodies lists every route of the server (see Server.Patterns) with
// the JSON body of a request it accepts, nil for a route that takes none.
// A new route must be added here: the test below fails until it is, and
// then sends it the same malformed variants as every other route.
func routeBodies(rc string) map[string]any {
	part := map[string]any{"mime_type": "text/plain", "body": "Hello!"}
	return map[string]any{
		"GET /health":       nil,
		"GET /errors":       nil,
		"GET /metrics":      nil,
		"GET /openapi.json": nil,

		"POST /nonces":                             nil,
		"POST /sessions":                           map[string]any{"identity_token": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "app_id": "layer:///apps/staging/9ad8a4ae-2c05-4d4c-bf0d-3e4d8ddc2b1c"},
		"DELETE /sessions/{token}":                 nil,
		"GET /{$}":                                 nil,
		"GET /websocket":                           nil,
		"GET /websocket/{$}":                       nil,
		"GET /ping":                                nil,
		"GET /conversations":                       nil,
		"POST /conversations":                      map[string]any{"id": "layer:///conversations/0e9a2c55-54a5-4c4c-9d3e-9f0e3a4b5c6d", "participants": []any{"layer:///identities/carol"}, "distinct": false, "metadata": map[string]any{"title": "Lunch"}},
		"GET /conversations/{conv}":                nil,
		"PATCH /conversations/{conv}":              []any{map[string]any{"operation": "add", "property": "participants", "id": "layer:///identities/carol"}, patch("set", "metadata.title", "Dinner")},
		"DELETE /conversations/{conv}":             nil,
		"POST /conversations/{conv}/mark_all_read": map[string]any{"position": nil},
		"GET /conversations/{conv}/messages":       nil,
		"POST /conversations/{conv}/messages":      map[string]any{"id": "layer:///messages/5b0e8d1c-7f4a-4e0b-8c2d-1a2b3c4d5e6f", "parts": []any{part}},
		"GET /messages/{msg}":                      nil,
		"DELETE /messages/{msg}":                   nil,
		"POST /messages/{msg}/receipts":            map[string]any{"type": "delivery"},
		"GET /identities":                          nil,
		"GET /identities/{user}":                   nil,
		"GET /following":                           nil,
		"POST /following/users":                    []any{"layer:///identities/carol", "dave"},
		"GET /following/users/{followed}":          nil,
		"PUT /following/users/{followed}":          nil,
		"DELETE /following/users/{followed}":       nil,
		"DELETE /following/{followed}":             nil,
		"GET /announcements":                       nil,
		"GET /announcements/{id}":                  nil,
		"DELETE /announcements/{id}":               nil,
		"POST /announcements/{id}/receipts":        map[string]any{"type": "read"},
		"POST /content":                            nil,
		"POST /push_tokens":                        map[string]any{"token": "f00d", "type": "gcm", "device_id": "a7775566-bfbf-11e5-bf72-359a01002888", "gcm_sender_id": "123"},
		"DELETE /push_tokens/{device}":             nil,
		// The Client API's preflights (see AllowCORS).
		"OPTIONS /ping": nil, "OPTIONS /nonces": nil, "OPTIONS /sessions": nil, "OPTIONS /sessions/{token}": nil,
		"OPTIONS /conversations": nil, "OPTIONS /conversations/{conv}": nil, "OPTIONS /conversations/{conv}/mark_all_read": nil,
		"OPTIONS /conversations/{conv}/messages": nil, "OPTIONS /messages/{msg}": nil, "OPTIONS /messages/{msg}/receipts": nil,
		"OPTIONS /identities": nil, "OPTIONS /identities/{user}": nil, "OPTIONS /following": nil, "OPTIONS /following/users": nil,
		"OPTIONS /following/users/{followed}": nil, "OPTIONS /following/{followed}": nil, "OPTIONS /announcements": nil,
		"OPTIONS /announcements/{id}": nil, "OPTIONS /announcements/{id}/receipts": nil, "OPTIONS /content": nil,
		"OPTIONS /content/{id}": nil, "OPTIONS /push_tokens": nil, "OPTIONS /push_tokens/{device}": nil,

		"POST /apps/{app}/keys":        map[string]any{"public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"},
		"GET /apps/{app}/keys":         nil,
		"DELETE /apps/{app}/keys/{id}": nil,

		"PUT /apps/{app}/users/{user}/identity":    map[string]any{"display_name": "Bob", "avatar_url": "https://example.com/b.png", "metadata": map[string]any{"k": "v"}},
		"POST /apps/{app}/users/{user}/identity":   map[string]any{"display_name": "Bob"},
		"PATCH /apps/{app}/users/{user}/identity":  map[string]any{"first_name": "Bob", "metadata": map[string]any{"k": "w"}},
		"GET /apps/{app}/users/{user}/identity":    nil,
		"DELETE /apps/{app}/users/{user}/identity": nil,

		"POST /apps/{app}/conversations":                                   map[string]any{"participants": []any{"alice", map[string]any{"user_id": "carol"}}, "distinct": false, "metadata": map[string]any{"title": "Lunch"}},
		"GET /apps/{app}/conversations":                                    nil,
		"GET /apps/{app}/conversations/{conv}":                             nil,
		"PATCH /apps/{app}/conversations/{conv}":                           []any{patch("add", "participants", "carol"), patch("set", "metadata.title", "Dinner")},
		"DELETE /apps/{app}/conversations/{conv}":                          nil,
		"GET /apps/{app}/users/{user}/conversations":                       nil,
		"GET /apps/{app}/users/{user}/conversations/{conv}":                nil,
		"POST /apps/{app}/users/{user}/conversations/{conv}/mark_all_read": map[string]any{"position": nil},
		"POST /apps/{app}/users/{user}/conversations":                      map[string]any{"participants": []any{"alice", "layer:///identities/carol"}, "distinct": false, "metadata": map[string]any{"title": "Lunch"}},
		"PATCH /apps/{app}/users/{user}/conversations/{conv}":              []any{patch("add", "participants", "carol"), patch("set", "metadata.title", "Dinner")},
		"DELETE /apps/{app}/users/{user}/conversations/{conv}":             nil,
		"POST /apps/{app}/users/{user}/conversations/{conv}/messages":      map[string]any{"parts": []any{part}, "notification": map[string]any{"text": "hi"}},

		"POST /apps/{app}/conversations/{conv}/messages":             map[string]any{"sender": map[string]any{"user_id": "alice"}, "parts": []any{part}, "notification": map[string]any{"text": "hi"}},
		"GET /apps/{app}/conversations/{conv}/messages":              nil,
		"GET /apps/{app}/conversations/{conv}/messages/{msg}":        nil,
		"DELETE /apps/{app}/conversations/{conv}/messages/{msg}":     nil,
		"GET /apps/{app}/messages/{msg}":                             nil,
		"DELETE /apps/{app}/messages/{msg}":                          nil,
		"GET /apps/{app}/users/{user}/conversations/{conv}/messages": nil,
		"GET /apps/{app}/users/{user}/messages/{msg}":                nil,
		"DELETE /apps/{app}/users/{user}/messages/{msg}":             nil,
		"POST /apps/{app}/users/{user}/messages/{msg}/receipts":      map[string]any{"type": "delivery"},

		"GET /apps/{app}/announcements/{id}":                                  nil,
		"POST /apps/{app}/announcements":                                      map[string]any{"recipients": []any{"bob", "carol"}, "sender": map[string]any{"name": "The Team"}, "parts": []any{part}},
		"GET /apps/{app}/users/{user}/announcements":                          nil,
		"GET /apps/{app}/users/{user}/announcements/{id}":                     nil,
		"DELETE /apps/{app}/users/{user}/announcements/{id}":                  nil,
		"POST /apps/{app}/users/{user}/announcements/{id}/receipts":           map[string]any{"type": "read"},
		"POST /apps/{app}/users/{user}/push_tokens":                           map[string]any{"token": "105ebe3fcb7e93efda22257caaf5b9c465043f6d0b2abf3bc8ae7c939655e949", "type": "apns", "device_id": "a7775566-bfbf-11e5-bf72-359a01002888", "apns_bundle_id": "com.example.app", "ios_version": "9.0"},
		"GET /apps/{app}/users/{user}/push_tokens":                            nil,
		"DELETE /apps/{app}/users/{user}/push_tokens/{device}":                nil,
		"POST /apps/{app}/notifications":                                      map[string]any{"recipients": []any{"bob"}, "notification": map[string]any{"text": "hi"}},
		"GET /apps/{app}/users/{user}/badge":                                  nil,
		"PUT /apps/{app}/users/{user}/badge":                                  map[string]any{"external_unread_count": 3},
		"GET /apps/{app}/conversations/{conv}/messages/{msg}/parts":           nil,
		"POST /apps/{app}/conversations/{conv}/messages/{msg}/parts":          part,
		"PUT /apps/{app}/conversations/{conv}/messages/{msg}/parts":           []any{part},
		"GET /apps/{app}/conversations/{conv}/messages/{msg}/parts/{part}":    nil,
		"PUT /apps/{app}/conversations/{conv}/messages/{msg}/parts/{part}":    part,
		"DELETE /apps/{app}/conversations/{conv}/messages/{msg}/parts/{part}": nil,

		"POST /apps/{app}/conversations/{conv}/content":     nil,
		"GET /apps/{app}/content/{id}":                      nil,
		"GET /apps/{app}/conversations/{conv}/content/{id}": nil,
		"POST /apps/{app}/users/{user}/content":             nil,
		"GET /apps/{app}/users/{user}/content/{id}":         nil,
		"PUT /uploads/{id}":                                 nil,
		"POST /uploads/{id}":                                nil,
		"OPTIONS /uploads/{id}":                             nil,
		"GET /content/{id}":                                 nil,

		"PATCH /apps/{app}":                                    []any{patch("set", "session_ttl_in_seconds", 3600)},
		"GET /apps/{app}/users/{user}":                         nil,
		"PATCH /apps/{app}/users/{user}":                       []any{patch("add", "blocks", "carol"), map[string]any{"operation": "remove", "property": "blocks", "id": "layer:///identities/dave"}, patch("set", "suspended", false)},
		"DELETE /apps/{app}/users/{user}/sessions":             nil,
		"GET /apps/{app}/users/{user}/blocks":                  nil,
		"POST /apps/{app}/users/{user}/blocks":                 map[string]any{"user_id": "carol"},
		"DELETE /apps/{app}/users/{user}/blocks/{blocked}":     nil,
		"GET /apps/{app}/users/{user}/following":               nil,
		"POST /apps/{app}/users/{user}/following":              []any{"layer:///identities/carol", "dave"},
		"PUT /apps/{app}/users/{user}/following/{followed}":    nil,
		"GET /apps/{app}/users/{user}/following/{followed}":    nil,
		"DELETE /apps/{app}/users/{user}/following/{followed}": nil,
		"GET /apps/{app}/users/{user}/identities":              nil,

		"GET /apps/{app}/events": nil,

		"PUT /apps/{app}/export_security":     map[string]any{"public_key": exportPublicPEM()},
		"GET /apps/{app}/export_security":     nil,
		"POST /apps/{app}/exports":            nil,
		"GET /apps/{app}/exports":             nil,
		"GET /apps/{app}/exports/{id}/status": nil,
		"DELETE /apps/{app}/exports/{id}":     nil,
		"PUT /apps/{app}/export_schedule":     map[string]any{"interval": "daily", "events": []any{"message.sent"}},
		"GET /apps/{app}/export_schedule":     nil,
		"GET /exports/{file}":                 nil,

		"GET /apps/{app}/push_providers":           nil,
		"PUT /apps/{app}/push_providers/{kind}":    map[string]any{"url": "https://example.com/push"},
		"DELETE /apps/{app}/push_providers/{kind}": nil,

		"GET /apps/{app}/tokens":         nil,
		"POST /apps/{app}/tokens":        map[string]any{"name": "deploy bot"},
		"DELETE /apps/{app}/tokens/{id}": nil,

		"POST /apps/{app}/webhooks":                                   hookBody(rc, "conversation.deleted"),
		"GET /apps/{app}/webhooks":                                    nil,
		"GET /apps/{app}/webhooks/{id}":                               nil,
		"DELETE /apps/{app}/webhooks/{id}":                            nil,
		"PATCH /apps/{app}/webhooks/{id}":                             map[string]any{"events": []any{"conversation.deleted", "message.sent"}, "retry_schedule": []any{5}},
		"POST /apps/{app}/webhooks/{id}/test":                         nil,
		"POST /apps/{app}/webhooks/{id}/activate":                     nil,
		"POST /apps/{app}/webhooks/{id}/deactivate":                   nil,
		"POST /apps/{app}/webhooks/{id}/replay":                       map[string]any{"since": "2020-01-01T00:00:00Z", "until": "2020-01-02T00:00:00Z"},
		"GET /apps/{app}/webhooks/{id}/deliveries":                    nil,
		"GET /apps/{app}/webhooks/{id}/deliveries/{delivery}":         nil,
		"POST /apps/{app}/webhooks/{id}/deliveries/{delivery}/resend": nil,
		"POST /apps/{app}/webhooks/{id}/rotate_secret":                map[string]any{"grace_period_seconds": 60},

		"POST /v1/channels":                map[string]any{"type": "whatsapp", "identifier": "14155550199", "title": "Sales"},
		"GET /v1/channels":                 nil,
		"GET /v1/channels/{uuid}":          nil,
		"PATCH /v1/channels/{uuid}":        map[string]any{"title": "Support"},
		"DELETE /v1/channels/{uuid}":       nil,
		"POST /v1/channels/{uuid}/inbound": map[string]any{"from": "331100000002", "contact": map[string]any{"name": "Ann"}, "content": map[string]any{"text": "Hello", "location": map[string]any{"coordinates": map[string]any{"x": 48.85, "y": 2.35}}}, "external_id": "wamid.x"},

		"POST /v1/contacts":                                  map[string]any{"identifier": "331100000003", "source": "whatsapp", "name": "Jane", "tags": []any{"Lead"}, "custom_fields": map[string]any{"plan": "pro"}},
		"GET /v1/contacts":                                   nil,
		"GET /v1/contacts/{uuid}":                            nil,
		"PATCH /v1/contacts/{uuid}":                          map[string]any{"name": "Johnny", "tags": []any{"vip"}, "custom_fields": map[string]any{"a": "b"}},
		"DELETE /v1/contacts/{uuid}":                         nil,
		"POST /v1/contacts/{uuid}/conversation/close":        map[string]any{"closing_reason": "done"},
		"POST /v1/contacts/{uuid}/conversation/open":         nil,
		"GET /v1/contacts/{first}/{second}":                  nil,
		"POST /v1/contacts/{uuid}/bot":                       map[string]any{"status": "bot_start"},
		"POST /v1/contacts/{uuid}/conversation/note":         map[string]any{"text": "Call back tomorrow"},
		"PUT /v1/contacts/{uuid}/conversation/update_funnel": map[string]any{"funnel_id": ""},
		"GET /v1/funnels":                                    nil,
		"POST /v1/funnels":                                   map[string]any{"name": "Interest", "emoji": "👁️", "position": 2},
		"DELETE /v1/funnels/{uuid}":                          nil,
		"GET /v1/custom_fields":                              nil,
		"POST /v1/custom_fields":                             map[string]any{"name": "Plan", "type": "dropdown", "options": []any{"Gold", "Silver"}},
		"DELETE /v1/custom_fields/{name}":                    nil,

		"POST /v1/messages/send":          map[string]any{"to": seedContactNumber, "from": "whatsapp", "type": "text", "content": map[string]any{"text": "Hi"}, "metadata": map[string]any{"k": "v"}},
		"GET /v1/messages/status/{uuid}":  nil,
		"POST /v1/messages/{uuid}/status": map[string]any{"status": "delivered", "payload": map[string]any{"raw": true}},
		"DELETE /v1/messages/{uuid}":      nil,
		// The body names no message: every malformed variant of it is
		// refused, which is what the test needs of it.
		"DELETE /v1/messages": map[string]any{"uuid": "0000000000004000800000000000dead"},

		"GET /v1/templates":           nil,
		"GET /v1/templates/{uuid}":    nil,
		"PATCH /v1/templates/{uuid}":  map[string]any{"title": "Shipping", "status": "approved"},
		"DELETE /v1/templates/{uuid}": nil,
		"POST /v1/templates": map[string]any{"channel_uuid": "0000000000004000800000000000dead", "name": "order_shipped",
			"language": "en_US", "text": "Hello {{1}}", "category": "UTILITY"},

		"POST /v1/webhooks/subscribe":     map[string]any{"url": rc, "subscriptions": []any{"message_created"}},
		"GET /v1/webhooks":                nil,
		"DELETE /v1/webhooks/unsubscribe": nil,
		"GET /v1/webhooks/events":         nil,
		"POST /v1/webhooks/rotate_secret": map[string]any{"grace_period_seconds": 60},

		"GET /v1/auth/me":                        nil,
		"GET /v1/plan":                           nil,
		"POST /v1/users":                         map[string]any{"email": "eve@example.com", "name": "Eve", "role": "supervisor", "available": false},
		"GET /v1/users":                          nil,
		"GET /v1/users/{uuid}":                   nil,
		"PATCH /v1/users/{uuid}":                 map[string]any{"name": "Eva", "role": "admin"},
		"DELETE /v1/users/{uuid}":                nil,
		"POST /v1/users/{uuid}/session":          map[string]any{"action": "user_logged_in"},
		"PUT /v1/users/{uuid}/status":            map[string]any{"available": false, "custom_status_uuid": nil},
		"DELETE /v1/users/{uuid}/status":         nil,
		"GET /v1/teams":                          nil,
		"POST /v1/teams":                         map[string]any{"name": "Sales", "default": false},
		"GET /v1/teams/{uuid}":                   nil,
		"PATCH /v1/teams/{uuid}":                 map[string]any{"name": "Care"},
		"DELETE /v1/teams/{uuid}":                nil,
		"GET /v1/teams/{uuid}/members":           nil,
		"PUT /v1/teams/{uuid}/members/{user}":    nil,
		"DELETE /v1/teams/{uuid}/members/{user}": nil,
		"GET /v1/custom_statuses":                nil,
		"POST /v1/custom_statuses":               map[string]any{"name": "Lunch", "emoji": "🍙"},
		"GET /v1/custom_statuses/{id}":           nil,
		"PUT /v1/custom_statuses/{id}":           map[string]any{"name": "Long lunch", "emoji": "🍝"},
		"DELETE /v1/custom_statuses/{id}":        nil,
		"PUT /v1/channels/{uuid}/connector":      map[string]any{"provider": "whatsapp_cloud", "phone_number_id": "106540352242922", "access_token": "EAAG", "app_secret": "s", "verify_token": "v"},
		"GET /v1/channels/{uuid}/connector":      nil,
		"DELETE /v1/channels/{uuid}/connector":   nil,
		"GET /v1/connectors/whatsapp/{uuid}":     nil,
		"POST /v1/connectors/whatsapp/{uuid}":    map[string]any{"object": "whatsapp_business_account", "entry": []any{}},
		"POST /v1/connectors/telegram/{uuid}":    map[string]any{"update_id": 1},

		"/": nil,
	}
}

// snapshot is what a refused request must leave as it was: the events,
// which every change of the domain records, and what changes without one:
// webhooks, the deliveries of the fixture's webhook, channels, blobs.
func (a *api) snapshot(t *testing.T, webhook string) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	err := a.Store.View(ctx, func(q herald.Queries) error {
		seq, err := q.LastEventSeq(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "last event %d\n", seq)
		// The engine settles new webhooks' verifications in the
		// background: only the fixture's webhook, long settled, has its
		// status compared.
		ws, err := q.Webhooks(ctx, a.AppID)
		if err != nil {
			return err
		}
		for _, w := range ws {
			fmt.Fprintf(&b, "webhook %s %s %v %s\n", w.ID, w.TargetURL, w.Events, w.Config)
			if w.ID == webhook {
				fmt.Fprintf(&b, "  %s %s\n", w.Status, w.UpdatedAt)
			}
		}
		// Their attempts go on in the background: only which exist
		// counts.
		ds, err := q.Deliveries(ctx, webhook, "", herald.Page{Limit: 500})
		if err != nil {
			return err
		}
		for _, d := range ds {
			fmt.Fprintf(&b, "delivery %s\n", d.ID)
		}
		chs, err := q.Channels(ctx, a.AppID)
		for _, c := range chs {
			fmt.Fprintf(&b, "channel %s %s %s %v %v\n", c.UUID, c.Title, c.Identifier, c.Main, c.DiscardedAt)
		}
		if err != nil {
			return err
		}
		fs, err := q.Funnels(ctx, a.AppID)
		for _, f := range fs {
			fmt.Fprintf(&b, "funnel %s %s %s %d\n", f.UUID, f.Name, f.Emoji, f.Position)
		}
		if err != nil {
			return err
		}
		cfs, err := q.ContactFields(ctx, a.AppID)
		for _, f := range cfs {
			fmt.Fprintf(&b, "custom field %s %s %v\n", f.Name, f.Type, f.Options)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "blobs %v\n", a.blobFiles(t))
	return b.String()
}

// lineDiff shows the lines of two snapshots that differ.
func lineDiff(before, after string) string {
	var b strings.Builder
	was, is := strings.Split(before, "\n"), strings.Split(after, "\n")
	for _, l := range was {
		if !slices.Contains(is, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range is {
		if !slices.Contains(was, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

// A marker stands for what json.Marshal cannot write: it is replaced in the
// encoded body.
const (
	invalidUTF8Marker = "\u2603invalid-utf8\u2603"
	surrogateMarker   = "\u2603lone-surrogate\u2603"
)

func encodeBody(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte(invalidUTF8Marker), []byte("\xff\xfe\xc0\xae"))
	return bytes.ReplaceAll(b, []byte(surrogateMarker), []byte(`\ud800`))
}

// withLeaf returns copies of v, each with one of its strings replaced by
// what change makes of it.
func withLeaf(v any, change func(string) any) []any {
	switch v := v.(type) {
	case string:
		return []any{change(v)}
	case map[string]any:
		var out []any
		for _, k := range slices.Sorted(maps.Keys(v)) {
			for _, c := range withLeaf(v[k], change) {
				m := make(map[string]any, len(v))
				for k2, e := range v {
					m[k2] = e
				}
				m[k] = c
				out = append(out, m)
			}
		}
		return out
	case []any:
		var out []any
		for i, e := range v {
			for _, c := range withLeaf(e, change) {
				s := slices.Clone(v)
				s[i] = c
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// withMember returns copies of an object or array with each member in turn
// replaced by raw JSON.
func withMember(t *testing.T, v any, raw string) [][]byte {
	var out [][]byte
	placeholder := "\u2603member\u2603"
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			m := make(map[string]any, len(v))
			for k2, e := range v {
				m[k2] = e
			}
			m[k] = placeholder
			out = append(out, bytes.Replace(encodeBody(t, m), []byte(`"`+placeholder+`"`), []byte(raw), 1))
		}
	case []any:
		for i := range v {
			s := slices.Clone(v)
			s[i] = placeholder
			out = append(out, bytes.Replace(encodeBody(t, s), []byte(`"`+placeholder+`"`), []byte(raw), 1))
		}
	}
	return out
}

// malformedBodies are the variants of a route's body: truncated, members of
// the wrong type, nested too deep, arrays of 10,000 items, strings with
// NUL, invalid UTF-8, a lone surrogate or 70,000 characters, bodies too
// large or empty.
func malformedBodies(t *testing.T, body any) [][]byte {
	valid := encodeBody(t, body)
	out := [][]byte{valid[:len(valid)/2], valid[:len(valid)-1], []byte(""), []byte("null"), []byte(`"x"`),
		[]byte(strings.Repeat("[", 20000) + strings.Repeat("]", 20000)),
		[]byte(`{"pad": "` + strings.Repeat("x", 1<<20) + `"}`)}
	for _, raw := range []string{`5`, `"x"`, `[]`, `{}`, `null`, `1e400`,
		strings.Repeat("[", 100) + strings.Repeat("]", 100),
		strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100),
		"[" + strings.Repeat("0,", 10000) + "0]",
		"[" + strings.Repeat(`"user",`, 10000) + `"user"]`} {
		out = append(out, withMember(t, body, raw)...)
	}
	for _, change := range []func(string) any{
		func(s string) any { return s + "\x00" },
		func(s string) any { return "\x00" },
		func(s string) any { return s + invalidUTF8Marker },
		func(s string) any { return surrogateMarker + s },
		func(s string) any { return strings.Repeat("x", 70000) },
		func(s string) any { return 7 },
	} {
		for _, v := range withLeaf(body, change) {
			out = append(out, encodeBody(t, v))
		}
	}
	return out
}

// Every route of the server, sent malformed variants of a valid request
// (bad ids in the path, bad query parameters, bad bodies, other methods),
// answers each within a bound, never with a 5xx, with the error shape
// whenever it refuses, and a refused request changes nothing.
//
// It runs alone, not in parallel with other tests: its thousands of
// requests would skew the timings that they measure. Its engines run at
// once, each on its server.
func TestMalformedVariantsOfEveryRoute(t *testing.T) {
	// The answers of each engine, in order, to compare them once both
	// subtests have ended.
	var answersMu sync.Mutex
	answers := map[string][]string{}
	t.Cleanup(func() { compareEngineAnswers(t, answers) })
	for _, e := range engines {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			malformedVariantsOfEveryRoute(t, startAPI(t, e.Open(t)), func(answer string) {
				answersMu.Lock()
				defer answersMu.Unlock()
				answers[t.Name()] = append(answers[t.Name()], answer)
			})
		})
	}
}

// malformedVariantsOfEveryRoute sends a's routes their malformed variants
// and hands record the answer to each, in order.
func malformedVariantsOfEveryRoute(t *testing.T, a *api, record func(answer string)) {
	start := time.Now()
	rc := newReceiver(t)
	bodies := routeBodies(rc.URL)
	patterns := a.Server.Patterns()
	for _, p := range patterns {
		if _, ok := bodies[p]; !ok {
			t.Errorf("route %q is not in routeBodies: add it with a body it accepts", p)
		}
	}
	for p := range bodies {
		if !slices.Contains(patterns, p) {
			t.Errorf("routeBodies lists %q, which is no route of the server", p)
		}
	}
	if t.Failed() {
		return
	}

	// One object of every kind, for the valid path values.
	conv := a.newConversation(t, "alice", "bob")
	msg := localID(a.sendText(t, conv, "alice", "hi")["id"])
	ann := localID(a.announce(t, "news", "bob")["id"])
	data := []byte("some bytes")
	content := localID(a.uploaded(t, conv, "text/plain", data))
	download := a.do("GET", "/content/"+content, nil).must(t, 200).Map(t)["download_url"].(string)
	upload := a.newContent(t, conv, "text/plain", len(data))["upload_url"].(string)
	a.do("PUT", "/users/bob/identity", map[string]any{"display_name": "Bob"}).must(t, 201)
	// The webhook's one delivery is of an event no malformed request
	// makes, so that its deliveries change only by a request's doing.
	webhook := localID(a.verifiedWebhook(t, hookBody(rc.URL, "conversation.deleted"))["id"])
	a.do("DELETE", "/conversations/"+a.newConversation(t, "zed"), nil).must(t, 204)
	delivery := a.waitDeliveries(t, webhook, herald.DeliveryDelivered, 1)[0]["id"].(string)
	channel := a.cbChannel(t, seedChannelNumber)
	contact := a.johnDoe(t)["uuid"].(string)
	template := a.cbTemplate(t, channel, "Hello {{1}}")
	a.openWindow(t, contact)
	channelMsg := a.cbSend(t, map[string]any{"to": seedContactNumber, "content": map[string]any{"text": "hi"}})
	funnel := a.v1(t, "POST", "/funnels", map[string]any{"name": "Awareness"}).must(t, 201).Map(t)["funnel"].(map[string]any)["uuid"].(string)
	a.v1(t, "POST", "/custom_fields", map[string]any{"name": "Notes", "type": "text"}).must(t, 200)
	a.cbSubscribe(t, rc.URL, nil, "message_created")
	agent := a.do("POST", "//v1/users", map[string]any{"email": "ann@example.com", "name": "Ann"}).must(t, 201).Map(t)["user"].(map[string]any)["uuid"].(string)
	team := a.do("POST", "//v1/teams", map[string]any{"name": "Support"}).must(t, 201).Map(t)["team"].(map[string]any)["uuid"].(string)
	status := a.do("POST", "//v1/custom_statuses", map[string]any{"name": "Away"}).must(t, 201).Map(t)["customStatus"].(map[string]any)["id"].(string)
	token := a.do("POST", "/tokens", map[string]any{"name": "second"}).must(t, 201).Map(t)["id"].(string)
	exportID, exportDownload := a.completedExport(t)
	identityKey := localID(newIdentityProvider(t, a).kid)
	// The Client API's routes are sent as bob, the server API's as
	// the app.
	bob := startSession(t, a, "bob")
	valid := func(pattern, name string) string {
		if name == "$" {
			return "" // {$}: the path ends there
		}
		before, _, _ := strings.Cut(pattern, "/{"+name+"}")
		switch name + " " + before[strings.LastIndex(before, "/")+1:] {
		case "app apps":
			return a.AppID
		case "conv conversations":
			return conv
		case "msg messages":
			return msg
		case "part parts":
			return "0" // as 1.x, the version asked for by default, names parts
		case "user users":
			return "bob"
		case "uuid users", "user members":
			return agent
		case "uuid teams":
			return team
		case "id custom_statuses":
			return status
		case "user identities":
			return "bob"
		case "blocked blocks", "followed following", "followed users":
			return "carol"
		case "device push_tokens":
			return "a7775566-bfbf-11e5-bf72-359a01002888"
		case "id announcements":
			return ann
		case "id content":
			return content
		case "id webhooks":
			return webhook
		case "id tokens":
			return token
		case "kind push_providers":
			return herald.PushProviderWebhook
		case "id exports":
			return exportID
		case "id keys":
			return identityKey
		case "token sessions":
			return "hrls_none"
		case "delivery deliveries":
			return delivery
		case "uuid channels", "uuid whatsapp", "uuid telegram":
			return channel
		case "uuid contacts", "first contacts":
			return contact
		case "second {first}":
			return "messages"
		case "uuid funnels":
			return funnel
		case "name custom_fields":
			return "Notes"
		case "uuid messages", "uuid status":
			return channelMsg
		case "uuid templates":
			return template
		}
		t.Fatalf("no valid value for {%s} of %s: add one", name, pattern)
		return ""
	}
	// The signed routes' ids and signatures.
	signed := map[string]*url.URL{}
	for pattern, raw := range map[string]string{"GET /content/{id}": download, "PUT /uploads/{id}": upload, "POST /uploads/{id}": upload,
		"OPTIONS /uploads/{id}": upload, "GET /exports/{file}": exportDownload} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		signed[pattern] = u
	}
	// path fills a pattern's wildcards, bad taking the place of one.
	path := func(pattern, badName, bad string) string {
		_, p, _ := strings.Cut(pattern, " ")
		for _, part := range strings.Split(p, "/") {
			if !strings.HasPrefix(part, "{") {
				continue
			}
			name := strings.Trim(part, "{}.")
			var v string
			switch {
			case name == badName:
				v = bad
			case signed[pattern] != nil:
				v = signed[pattern].Path[strings.LastIndex(signed[pattern].Path, "/")+1:]
			default:
				v = url.PathEscape(valid(pattern, name))
			}
			p = strings.Replace(p, part, v, 1)
		}
		if u := signed[pattern]; u != nil {
			p += "?" + u.RawQuery
		}
		return p
	}

	// routes matches requests to the server's patterns.
	routes := http.NewServeMux()
	for _, p := range patterns {
		if p != "/" {
			routes.HandleFunc(p, func(http.ResponseWriter, *http.Request) {})
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	sent := 0
	statuses := map[int]int{}
	before := a.snapshot(t, webhook)
	// unchecked lists the refused requests sent since the last
	// snapshot: those whose refusal needs no handler (a bad id, a bad
	// query, another method) are checked together, at the end of
	// their route's turn; the bodies, some of which are taken, one by
	// one.
	var unchecked []string
	check := func() {
		t.Helper()
		if len(unchecked) == 0 {
			return
		}
		after := a.snapshot(t, webhook)
		if after != before {
			t.Fatalf("one of these refused requests changed\n%s\n:\n%s", lineDiff(before, after), strings.Join(unchecked, "\n"))
		}
		unchecked = nil
	}
	send := func(what, method, target string, body []byte) {
		t.Helper()
		sent++
		u := a.URL + target
		if strings.HasPrefix(target, "http") {
			u = target
		}
		req, err := http.NewRequest(method, u, bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		req.Header.Set("Authorization", "Bearer "+a.Token)
		if !strings.HasPrefix(target, "http") && !strings.HasPrefix(target, "/apps/") && !strings.HasPrefix(target, "/v1/") {
			req.Header.Set(sessionHeader(bob.token))
		}
		req.Header.Set("Upload-Content-Type", "text/plain")
		req.Header.Set("Upload-Content-Length", "10")
		began := time.Now()
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %s %s: no answer after %v: %v", what, method, target, time.Since(began), err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		statuses[res.StatusCode]++
		record(fmt.Sprintf("%s: %s %.80s: %d", what, method, target, res.StatusCode))
		desc := fmt.Sprintf("%s: %s %.200s %.200q", what, method, target, body)
		if res.StatusCode >= 500 {
			t.Fatalf("%s: %d %s", desc, res.StatusCode, b)
		}
		if res.StatusCode < 400 {
			// Only bodies may be taken, and reads.
			if what != "bad body" && method != "GET" {
				t.Fatalf("%s: a malformed request was taken: %d %s", desc, res.StatusCode, b)
			}
			check()
			before = a.snapshot(t, webhook)
			return
		}
		var e struct {
			ID      string
			Code    int
			Message string
			URL     string
		}
		if err := json.Unmarshal(b, &e); err != nil || e.ID == "" || e.Code == 0 || e.Message == "" || e.URL == "" ||
			!strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s: %d without the error shape: %s", desc, res.StatusCode, b)
		}
		// A read writes nothing: only the other methods are looked at.
		if method != "GET" {
			unchecked = append(unchecked, fmt.Sprintf("%s: %d %s", desc, res.StatusCode, b))
			if what == "bad body" {
				check()
			}
		}
	}

	badIDs := []string{"a%00b", "%ff%fe", "%C0%AE%C0%AE", "%01", strings.Repeat("x", 300), strings.Repeat("%C3%A9", 200)}
	badQueries := []string{"x=%00", "page_size=%ff", "from_id=%00&limit=a%C0", "%ff=1", "mode=%00"}
	// An over-long value is text: a route that reads it says what it
	// makes of it, one that does not ignores it (and so does what it
	// does: only reads get it).
	longQuery := "from_id=" + strings.Repeat("y", 5000) + "&after=" + strings.Repeat("z", 5000)
	for _, pattern := range patterns {
		if pattern == "/" {
			continue
		}
		method, p, _ := strings.Cut(pattern, " ")
		var body []byte
		if bodies[pattern] != nil {
			body = encodeBody(t, bodies[pattern])
		} else if method == "PUT" {
			body = data // the upload
		}
		for name := range strings.SplitSeq(p, "/") {
			if !strings.HasPrefix(name, "{") {
				continue
			}
			name = strings.Trim(name, "{}.")
			for _, bad := range badIDs {
				send("bad {"+name+"}", method, path(pattern, name, bad), body)
			}
		}
		target := path(pattern, "", "")
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		if !strings.HasPrefix(p, "/health") && !strings.HasPrefix(p, "/errors") {
			for _, q := range badQueries {
				send("bad query", method, target+sep+q, body)
			}
			if method == "GET" {
				send("long query", method, target+sep+longQuery, body)
			}
		}
		if bodies[pattern] != nil {
			for _, b := range malformedBodies(t, bodies[pattern]) {
				send("bad body", method, target, b)
			}
		}
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			// Another route may take the method on this path
			// (DELETE /following/users is DELETE
			// /following/{followed} of the user "users").
			probe, _ := http.NewRequest(m, a.URL+target, nil)
			if _, q := routes.Handler(probe); q != "" && q != "/" {
				continue
			}
			if !slices.ContainsFunc(patterns, func(q string) bool {
				qm, qp, _ := strings.Cut(q, " ")
				return qm == m && qp == p
			}) {
				send("other method", m, target, body)
			}
		}
		check()
	}
	t.Logf("%d malformed requests in %v; statuses %v", sent, time.Since(start).Round(time.Millisecond), statuses)
}

// compareEngineAnswers checks that both engines answered each request
// alike (ids in paths differ: the requests are compared by their order).
func compareEngineAnswers(t *testing.T, answers map[string][]string) {
	sqlite, pg := answers[t.Name()+"/sqlite"], answers[t.Name()+"/postgres"]
	if len(sqlite) == 0 || len(pg) == 0 || t.Failed() {
		return
	}
	for i := range min(len(sqlite), len(pg)) {
		if status(sqlite[i]) != status(pg[i]) {
			t.Errorf("the engines answer differently:\n  sqlite   %s\n  postgres %s", sqlite[i], pg[i])
		}
	}
}

// status is the status at the end of an answer's line.
func status(line string) string { return line[strings.LastIndex(line, " ")+1:] }
