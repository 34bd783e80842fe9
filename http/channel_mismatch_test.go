package http_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

// WhatsApp's number correction is reported as mismatch, with the corrected
// address in the payload; the message still goes on to sent, delivered and
// read, and never back to mismatch.
func TestChannelMessageMismatch(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		cbRC := newReceiver(t)
		a.cbSubscribe(t, cbRC.URL, nil, "message_status_updated")
		a.cbChannel(t, seedChannelNumber)
		a.johnDoe(t)
		id := a.cbSendText(t, seedContactNumber, "Your parcel is on its way")

		corrected := json.RawMessage(`{"input":"+5511912345678","wa_id":"551112345678"}`)
		resp := a.v1(t, "POST", "/messages/"+id+"/status", map[string]any{"status": "mismatch", "payload": corrected})
		m := obj(t, resp.must(t, 200).Map(t)["message"])
		if m["status"] != "mismatch" {
			t.Fatalf("status %v, want mismatch", m["status"])
		}
		if p := obj(t, m["messageStatusPayload"]); p["wa_id"] != "551112345678" {
			t.Fatalf("messageStatusPayload %v, want the corrected wa_id", p)
		}
		a.cbStatus(t, id, "sent").must(t, 200)
		a.cbStatus(t, id, "mismatch").wantError(t, http.StatusConflict, "conflict", "status")

		var got []string
		for _, h := range cbRC.waitAccepted(t, 2) {
			got = append(got, fmt.Sprint(obj(t, h.payload(t)["payload"])["status"]))
		}
		if len(got) != 2 || got[0] != "mismatch" || got[1] != "sent" {
			t.Fatalf("message_status_updated statuses %v, want [mismatch sent]", got)
		}
	})
}
