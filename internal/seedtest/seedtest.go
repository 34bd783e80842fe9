// Package seedtest compares payloads that Herald renders with the seed
// payloads of the project, which are the wire-format contract: the same keys
// at every level, in the same order, with the same values once what
// necessarily differs (ids, instants, URLs, sizes) is normalised.
//
// The seeds are kept in seeds/ here, a copy of the shared/seeds directory
// that sits beside the repository in the team's workspace, so that a clone
// alone runs every test; a test checks the copy against the original
// wherever the original is present.
package seedtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func here() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// seedsDir holds the repository's copy of the seeds.
func seedsDir() string { return filepath.Join(here(), "seeds") }

// SharedSeedsDir is the team's shared/seeds beside the repository.
func SharedSeedsDir() string { return filepath.Join(here(), "..", "..", "..", "shared", "seeds") }

func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("payload is not a JSON object: %v\n%s", err, b)
	}
	return v
}

// Payload returns the JSON payload of one of the seed documents, which sit
// in the shared directory beside the repository.
func Payload(t testing.TB, name string) []byte {
	t.Helper()
	path := filepath.Join(seedsDir(), name)
	doc, err := os.ReadFile(path)
	if err != nil {
		abs, _ := filepath.Abs(path)
		t.Fatalf("seed %s is missing (looked for %s): %v", name, abs, err)
	}
	s := string(doc)
	// The block's opening line may carry attributes: ```json title=payload.json
	start := strings.Index(s, "```json")
	if start < 0 {
		t.Fatalf("seed %s has no ```json block", name)
	}
	s = s[start:]
	s = s[strings.IndexByte(s, '\n')+1:]
	end := strings.Index(s, "\n```")
	if end < 0 {
		t.Fatalf("seed %s: the ```json block is not closed", name)
	}
	b := []byte(s[:end])
	if !json.Valid(b) {
		t.Fatalf("seed %s: the ```json block is not valid JSON", name)
	}
	return b
}

var uuidPattern = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// normalise replaces what necessarily differs between Layer's samples and
// Herald's payloads, and nothing else: uuids inside ids, instants, URLs
// (other hosts, other paths, signed query strings) and content sizes.
func normalise(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, vv := range x {
			out[uuidPattern.ReplaceAllString(k, "<uuid>")] = normalise(vv, k)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, vv := range x {
			out[i] = normalise(vv, key)
		}
		return out
	case string:
		if _, err := time.Parse(time.RFC3339, x); err == nil {
			return "<time>"
		}
		if strings.HasPrefix(x, "http://") || strings.HasPrefix(x, "https://") {
			return "<url>"
		}
		return uuidPattern.ReplaceAllString(x, "<uuid>")
	case float64:
		if key == "size" {
			return "<size>"
		}
	}
	return v
}

// diff lists every difference between want and got, by JSON path: keys on
// one side only, and differing values.
func diff(path string, want, got any) []string {
	wm, wok := want.(map[string]any)
	gm, gok := got.(map[string]any)
	if wok && gok {
		var out []string
		for _, k := range sortedKeys(wm) {
			if _, ok := gm[k]; !ok {
				out = append(out, fmt.Sprintf("%s.%s: missing from the rendered payload (seed has %s)", path, k, show(wm[k])))
			}
		}
		for _, k := range sortedKeys(gm) {
			if _, ok := wm[k]; !ok {
				out = append(out, fmt.Sprintf("%s.%s: not in the seed (rendered %s)", path, k, show(gm[k])))
			}
		}
		for _, k := range sortedKeys(wm) {
			if _, ok := gm[k]; ok {
				out = append(out, diff(path+"."+k, wm[k], gm[k])...)
			}
		}
		return out
	}
	wa, wok := want.([]any)
	ga, gok := got.([]any)
	if wok && gok {
		if len(wa) != len(ga) {
			return []string{fmt.Sprintf("%s: seed has %d elements, rendered %d", path, len(wa), len(ga))}
		}
		var out []string
		for i := range wa {
			out = append(out, diff(fmt.Sprintf("%s[%d]", path, i), wa[i], ga[i])...)
		}
		return out
	}
	if !reflect.DeepEqual(want, got) {
		return []string{fmt.Sprintf("%s: seed has %s, rendered %s", path, show(want), show(got))}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func show(v any) string { return jsonText(v, "") }

func indent(v any) string { return jsonText(v, "  ") }

// jsonText renders v for failure messages, without escaping the <uuid>
// style placeholders of the normaliser.
func jsonText(v any, indent string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	enc.Encode(v)
	return strings.TrimSuffix(buf.String(), "\n")
}

// keyOrder returns the keys of every object in a JSON document, in
// document order, by JSON path.
func keyOrder(t testing.TB, doc []byte) map[string][]string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	out := map[string][]string{}
	var walk func(path string)
	walk = func(path string) {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return
		}
		switch d {
		case '{':
			out[path] = []string{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					t.Fatal(err)
				}
				out[path] = append(out[path], k.(string))
				walk(path + "." + k.(string))
			}
		case '[':
			for i := 0; dec.More(); i++ {
				walk(fmt.Sprintf("%s[%d]", path, i))
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			t.Fatal(err)
		}
	}
	walk("")
	return out
}

// Compare fails t, with a readable list of differences, unless got has
// exactly the seed's keys at every level and the same values once
// normalised, with the keys of each object in the seed's order.
func Compare(t testing.TB, seedName string, got []byte) {
	t.Helper()
	seed := Payload(t, seedName)
	want := normalise(decode(t, seed), "")
	have := normalise(decode(t, got), "")
	if d := diff("$", want, have); len(d) > 0 {
		t.Errorf("rendered payload differs from %s:\n  %s\n\nseed (normalised):\n%s\n\nrendered (normalised):\n%s",
			seedName, strings.Join(d, "\n  "), indent(want), indent(have))
		return
	}
	wantOrder, gotOrder := keyOrder(t, seed), keyOrder(t, got)
	for path, keys := range wantOrder {
		if !slices.Equal(keys, gotOrder[path]) {
			t.Errorf("%s: keys of %s are in the order %v, the seed's are %v", seedName, "$"+path, gotOrder[path], keys)
		}
	}
}

// Member returns the raw JSON at a path of object keys ("payload",
// "contact") of doc, failing the test when there is none.
func Member(t testing.TB, doc []byte, path ...string) json.RawMessage {
	t.Helper()
	cur := json.RawMessage(doc)
	for i, k := range path {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(cur, &m); err != nil {
			t.Fatalf("$.%s is not an object in %s", strings.Join(path[:i], "."), doc)
		}
		v, ok := m[k]
		if !ok {
			t.Fatalf("no key %q at $.%s in %s", k, strings.Join(path[:i], "."), doc)
		}
		cur = v
	}
	return cur
}

// HasMember reports whether the object at path of doc has key.
func HasMember(t testing.TB, doc []byte, key string, path ...string) bool {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(Member(t, doc, path...), &m); err != nil {
		t.Fatalf("$.%s is not an object in %s", strings.Join(path, "."), doc)
	}
	_, ok := m[key]
	return ok
}
