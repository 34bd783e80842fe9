package jsoncheck

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestScan(t *testing.T) {
	for _, tc := range []struct {
		json     string
		maxDepth int
		want     *Problem
	}{
		{`{"a": "b", "c": [1, {"d": "é"}]}`, 3, nil},
		{`{"a": "b", "c": [1, {"d": "é"}]}`, 2, &Problem{TooDeep, "c[1]", "c"}},
		{`[[[]]]`, 2, &Problem{TooDeep, "[0][0]", "[0]"}},
		{"{\"parts\": [{\"body\": \"ok\"}, {\"body\": \"\xfe\"}]}", 10, &Problem{InvalidUTF8, "parts[1].body", "parts"}},
		{"{\"k\xff\": 1}", 10, &Problem{InvalidUTF8, "k\ufffd", "k\ufffd"}},
		{`{"a": "\ud83d\ude00", "b": "\u00e9\u0000"}`, 10, nil},
		{`{"a": ["x", "\ud800"]}`, 10, &Problem{LoneSurrogate, "a[1]", "a"}},
		{`{"a": "\udc00\ud800"}`, 10, &Problem{LoneSurrogate, "a", "a"}},
		{`{"a": "\ud800\u0041"}`, 10, &Problem{LoneSurrogate, "a", "a"}},
		{`{"a.b": {"\\ud800": "\\"}}`, 10, nil},
		{"\"\xed\xa0\x80\"", 10, &Problem{InvalidUTF8, "", ""}},
	} {
		got := Scan([]byte(tc.json), tc.maxDepth)
		if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("Scan(%q, %d) = %+v, want %+v", tc.json, tc.maxDepth, got, tc.want)
		}
	}
}

func TestNUL(t *testing.T) {
	type part struct {
		Body *string `json:"body"`
	}
	type embedded struct {
		Text string `json:"text"`
	}
	type input struct {
		embedded
		Name  string            `json:"name,omitempty"`
		Parts []part            `json:"parts"`
		Meta  json.RawMessage   `json:"metadata"`
		Tags  map[string]string `json:"tags"`
		Any   any               `json:"any"`
		Skip  string            `json:"-"`
		Plain string
	}
	nul := "a\x00"
	for _, tc := range []struct {
		in   input
		want string
	}{
		{input{Name: "n", Meta: json.RawMessage(`"\u0000"`), Skip: nul}, ""},
		{input{Name: nul}, "name"},
		{input{Parts: []part{{}, {Body: &nul}}}, "parts[1].body"},
		{input{embedded: embedded{Text: nul}}, "text"},
		{input{Tags: map[string]string{"k": nul}}, "tags.k"},
		{input{Tags: map[string]string{nul: "v"}}, "tags." + nul},
		{input{Any: map[string]any{"x": []any{1, nul}}}, "any.x[1]"},
		{input{Plain: nul}, "Plain"},
	} {
		got, ok := NUL(&tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("NUL(%+v) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

// depthOf is the depth of a decoded JSON value.
func depthOf(v any) int {
	deepest := 0
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			deepest = max(deepest, depthOf(e))
		}
	case []any:
		for _, e := range v {
			deepest = max(deepest, depthOf(e))
		}
	default:
		return 0
	}
	return deepest + 1
}

// hasReplacement reports whether a decoded value holds U+FFFD.
func hasReplacement(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.ContainsRune(v, utf8.RuneError)
	case map[string]any:
		for k, e := range v {
			if hasReplacement(k) || hasReplacement(e) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if hasReplacement(e) {
				return true
			}
		}
	}
	return false
}

// FuzzScan checks Scan and Depth against what Go's decoder makes of the
// same text: Scan finds a problem in any text that is not UTF-8, and says
// invalid UTF-8 only of such text;
// when it finds nothing, no U+FFFD appears in decoding that the text did not
// hold; its depth limit cuts where Depth says, and Depth is the depth of the
// decoded value. Neither panics on text that is not JSON.
func FuzzScan(f *testing.F) {
	for _, seed := range []string{
		`{"participants": ["alice", "bob"], "metadata": {"a": [1, {"b": null}]}}`,
		`[{"operation": "set", "property": "metadata.x", "value": "\ud83d\ude00"}]`,
		"{\"k\xff\": \"\xc0\xae\"}", `"\ud800"`, `{"a": "\\\"\u0000"}`, `[[[[]]]]`, `{"a":`, `"\u12`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := Scan(data, 10001)
		depth := Depth(data)
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		// Scan returns the first problem: text that is not UTF-8 may
		// first hold another one ("\ud800\x90").
		if valid := utf8.Valid(data); (p != nil && p.Fault == InvalidUTF8 && valid) || (p == nil && !valid) {
			t.Fatalf("Scan found %+v in text whose UTF-8 validity is %v", p, valid)
		}
		if p == nil && hasReplacement(v) && !bytes.Contains(bytes.ToLower(data), []byte(`\ufffd`)) &&
			!bytes.ContainsRune(data, utf8.RuneError) {
			t.Fatalf("Scan found nothing, yet decoding made U+FFFD of %q", data)
		}
		if depth != depthOf(v) {
			t.Fatalf("Depth = %d, want %d", depth, depthOf(v))
		}
		if p != nil || depth == 0 {
			return
		}
		if q := Scan(data, depth); q != nil {
			t.Fatalf("Scan at the text's own depth %d: %+v", depth, q)
		}
		q := Scan(data, depth-1)
		if q == nil || q.Fault != TooDeep || !strings.HasPrefix(q.Path, q.Top) {
			t.Fatalf("Scan under the text's depth %d: %+v", depth, q)
		}
	})
}
