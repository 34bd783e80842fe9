package messaging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

// FuzzLayerPatch applies arbitrary Layer-Patch documents to a conversation:
// an operation is applied or refused with a 4xx naming what it refused,
// never a panic; what is applied leaves valid participants, no twice, and
// metadata that is a JSON object; and the same document gives the same
// result every time.
func FuzzLayerPatch(f *testing.F) {
	for _, seed := range []string{
		`[{"operation": "add", "property": "participants", "value": "carol"}]`,
		`[{"operation": "add", "property": "participants", "value": ["carol", "layer:///identities/dave"]}]`,
		`[{"operation": "remove", "property": "participants", "value": "alice"}, {"operation": "set", "property": "metadata.title", "value": "Dinner"}]`,
		`[{"operation": "set", "property": "participants", "value": ["zed", "zed"]}]`,
		`[{"operation": "set", "property": "metadata", "value": {"a": {"b": [1, null]}}}, {"operation": "delete", "property": "metadata.a.b"}]`,
		`[{"operation": "set", "property": "metadata.a.b.c", "value": 1}]`,
		`[{"operation": "delete", "property": "metadata"}]`,
		`[{"operation": "set", "property": "metadata..x", "value": 1}]`,
		`[{"operation": "add", "property": "participants", "value": "al\u0000ice", "index": 2}]`,
		`[{"operation": "set", "property": "metadata.title", "value": null}]`,
		`[{"operation": "move", "property": "participants"}]`,
	} {
		f.Add([]byte(seed))
	}
	apply := func(ops []PatchOperation) (*herald.Conversation, any, error) {
		c := &herald.Conversation{ID: "c", AppID: "app", Participants: []string{"alice", "bob"}, Distinct: true,
			Metadata: json.RawMessage(`{"title":"Lunch","a":{"b":1}}`)}
		var meta any
		if err := json.Unmarshal(c.Metadata, &meta); err != nil {
			return nil, nil, err
		}
		for i, op := range ops {
			if err := applyOperation(c, &meta, op, fmt.Sprintf("[%d]", i)); err != nil {
				return nil, nil, err
			}
		}
		return c, meta, nil
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var ops []PatchOperation
		if json.Unmarshal(doc, &ops) != nil {
			return
		}
		c, meta, err := apply(ops)
		if err != nil {
			e, ok := herald.AsError(err)
			if !ok || e.Status() < 400 || e.Status() >= 500 {
				t.Fatalf("refused with %v", err)
			}
			p, _ := e.Data["property"].(string)
			if !strings.HasPrefix(p, "operations[") && p != "participants" && p != "metadata" {
				t.Fatalf("the refusal names %q: %v", p, err)
			}
			return
		}
		if len(c.Participants) > MaxParticipants {
			t.Fatalf("%d participants", len(c.Participants))
		}
		for i, p := range c.Participants {
			if err := checkUserID("participant", p); err != nil {
				t.Fatalf("participant %q: %v", p, err)
			}
			if slices.Index(c.Participants, p) != i {
				t.Fatalf("participant %q twice: %v", p, c.Participants)
			}
		}
		if _, ok := meta.(map[string]any); !ok {
			t.Fatalf("metadata became %T", meta)
		}
		b, err := json.Marshal(meta)
		if err != nil {
			t.Fatalf("metadata does not marshal: %v", err)
		}
		again, meta2, err := apply(ops)
		b2, _ := json.Marshal(meta2)
		if err != nil || !slices.Equal(again.Participants, c.Participants) || !bytes.Equal(b, b2) {
			t.Fatalf("applied twice: %v %s, then %v %s (%v)", c.Participants, b, again.Participants, b2, err)
		}
	})
}
