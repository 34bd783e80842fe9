package messaging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/jsoncheck"
)

// MaxUserIDLength bounds user ids, in bytes.
const MaxUserIDLength = 255

// MaxParticipants bounds a conversation's participants, and an
// announcement's recipients.
const MaxParticipants = 1000

// CheckUserID refuses what cannot be a user id, as the given property: the
// empty string, a Layer id, more than MaxUserIDLength bytes, text that is not
// UTF-8 or holds control characters.
func CheckUserID(property, id string) error { return checkUserID(property, id) }

func checkUserID(property, id string) error {
	if id == "" {
		return herald.PropertyError(herald.EMissingProperty, property, "%s must be a non-empty user id.", property)
	}
	if strings.HasPrefix(id, "layer:") {
		return herald.PropertyError(herald.EInvalidProperty, property, "%s %q is not a user id; give the bare id or layer:///identities/<user_id>.", property, id)
	}
	if len(id) > MaxUserIDLength || !utf8.ValidString(id) {
		return herald.PropertyError(herald.EInvalidProperty, property, "%s must be valid UTF-8 of at most %d bytes.", property, MaxUserIDLength)
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return herald.PropertyError(herald.EInvalidProperty, property, "%s must not contain control characters.", property)
		}
	}
	return nil
}

// checkUserIDs validates a list of user ids and returns it without
// duplicates, in first-seen order.
func checkUserIDs(property string, ids []string) ([]string, error) {
	if len(ids) > MaxParticipants {
		return nil, herald.PropertyError(herald.EInvalidProperty, property, "%s may list at most %d users.", property, MaxParticipants)
	}
	return distinctUserIDs(property, ids)
}

// distinctUserIDs checks each user id of a list, taking identity ids for
// the user ids they name, and returns them without duplicates, in
// first-seen order.
func distinctUserIDs(property string, ids []string) ([]string, error) {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for i, id := range ids {
		id = herald.LocalID(id, herald.IdentityIDPrefix)
		if err := checkUserID(fmt.Sprintf("%s[%d]", property, i), id); err != nil {
			return nil, err
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// checkMetadata accepts a JSON object, or nothing (null or absent), and
// returns it compacted.
func checkMetadata(property string, raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if raw[0] != '{' || !json.Valid(raw) {
		return nil, herald.PropertyError(herald.EInvalidProperty, property, "%s must be a JSON object.", property)
	}
	if err := checkDepth(property, raw); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, herald.PropertyError(herald.EInvalidProperty, property, "%s must be a JSON object.", property)
	}
	return buf.Bytes(), nil
}

// MaxMetadataDepth is how many levels of objects and arrays metadata may
// nest, the metadata object being the first.
const MaxMetadataDepth = jsoncheck.MaxDepth

func checkDepth(property string, raw json.RawMessage) error {
	if jsoncheck.Depth(raw) <= MaxMetadataDepth {
		return nil
	}
	return depthError(property)
}

func depthError(property string) error {
	e := herald.PropertyError(herald.EInvalidProperty, property, "%s nests deeper than %d levels of arrays and objects.",
		property, MaxMetadataDepth)
	e.Data["limit"] = MaxMetadataDepth
	return e
}

// sameJSON reports whether two metadata documents have the same meaning.
// No metadata means the same as {}, as the API renders it.
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 {
		a = json.RawMessage("{}")
	}
	if len(b) == 0 {
		b = json.RawMessage("{}")
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ca, _ := json.Marshal(va)
	cb, _ := json.Marshal(vb)
	return bytes.Equal(ca, cb)
}
