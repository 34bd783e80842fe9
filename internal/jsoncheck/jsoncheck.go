// Package jsoncheck finds, in request bodies, what Herald's storage engines
// would not take alike: text that is not Unicode, NUL characters, and
// nesting deep enough to be a denial of service rather than data. SQLite
// stores any bytes; PostgreSQL refuses a NUL character or invalid UTF-8 in
// text; Go's decoder silently turns invalid UTF-8 and lone surrogates into
// U+FFFD. Refusing them before decoding is done makes every engine answer the
// same 4xx and keeps what a client sent from changing on its way in.
package jsoncheck

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxDepth is how many levels of arrays and objects a property's value may
// nest (an object of scalars is one level). Metadata is a few levels deep;
// thousands are a way to make every later reader of it recurse as deep.
const MaxDepth = 64

// A Fault is what Scan found wrong.
type Fault int

const (
	// InvalidUTF8: a string holds bytes that are not UTF-8.
	InvalidUTF8 Fault = iota + 1
	// LoneSurrogate: a string escapes half of a UTF-16 surrogate pair
	// ("\ud800"), which stands for no character.
	LoneSurrogate
	// TooDeep: arrays and objects nest deeper than allowed.
	TooDeep
)

// A Problem is a fault and where it is.
type Problem struct {
	Fault Fault
	// Path names the value, as a client names properties: parts[1].body,
	// metadata.k (empty for the top-level value). For TooDeep it is the
	// path of the value that went past the limit.
	Path string
	// Top names the top-level member or element the value is in, or is:
	// metadata, [0]; empty for the top-level value.
	Top string
}

// Scan checks JSON text: every string, keys included, is valid UTF-8 with no
// lone surrogate escaped, and arrays and objects nest at most maxDepth levels
// (the outermost one is level 1). It returns the first problem, nil when
// there is none. data should be valid JSON; Scan does not check its syntax,
// and stops without a problem where it stops making sense.
func Scan(data []byte, maxDepth int) *Problem {
	s := scanner{data: data, maxDepth: maxDepth}
	s.value(0)
	return s.problem
}

// Depth returns how deeply the arrays and objects of JSON text nest: 0 for a
// scalar, 1 for an array or object of scalars.
func Depth(data []byte) int {
	depth, deepest := 0, 0
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

// segment is one step of a path: an object member, by its raw key, or an
// array element.
type segment struct {
	key   []byte // the key's JSON string, quotes included; nil for an element
	index int
}

type scanner struct {
	data     []byte
	pos      int
	maxDepth int
	path     []segment
	problem  *Problem
}

func (s *scanner) fail(f Fault) {
	if s.problem == nil {
		s.problem = &Problem{Fault: f, Path: s.pathString(len(s.path)), Top: s.pathString(min(1, len(s.path)))}
	}
}

// pathString names the first n segments of the path.
func (s *scanner) pathString(n int) string {
	var b strings.Builder
	for _, seg := range s.path[:n] {
		if seg.key == nil {
			b.WriteString("[" + strconv.Itoa(seg.index) + "]")
			continue
		}
		var key string
		// Invalid UTF-8 in a key is named with U+FFFD in its place.
		if json.Unmarshal(seg.key, &key) != nil {
			key = strings.ToValidUTF8(string(seg.key), "\uFFFD")
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(key)
	}
	return b.String()
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// value scans the value at pos, at the given depth of its container.
func (s *scanner) value(depth int) {
	s.skipSpace()
	if s.problem != nil || s.pos >= len(s.data) {
		return
	}
	switch s.data[s.pos] {
	case '{':
		if depth+1 > s.maxDepth {
			s.fail(TooDeep)
			return
		}
		s.pos++
		for s.problem == nil {
			s.skipSpace()
			if s.pos >= len(s.data) {
				return
			}
			switch s.data[s.pos] {
			case '}':
				s.pos++
				return
			case ',':
				s.pos++
				continue
			case '"':
			default:
				s.pos = len(s.data) // not JSON: nothing more to say
				return
			}
			s.path = append(s.path, segment{key: s.data[s.pos:s.stringEnd()]})
			s.str()
			if s.problem != nil {
				return
			}
			s.skipSpace()
			if s.pos >= len(s.data) || s.data[s.pos] != ':' {
				s.pos = len(s.data)
				return
			}
			s.pos++
			s.value(depth + 1)
			s.path = s.path[:len(s.path)-1]
		}
	case '[':
		if depth+1 > s.maxDepth {
			s.fail(TooDeep)
			return
		}
		s.pos++
		for i := 0; s.problem == nil; {
			s.skipSpace()
			if s.pos >= len(s.data) {
				return
			}
			switch s.data[s.pos] {
			case ']':
				s.pos++
				return
			case ',':
				s.pos++
				continue
			}
			s.path = append(s.path, segment{index: i})
			before := s.pos
			s.value(depth + 1)
			s.path = s.path[:len(s.path)-1]
			if s.pos == before {
				s.pos = len(s.data) // not JSON
				return
			}
			i++
		}
	case '"':
		s.str()
	default:
		// A number, true, false or null: up to the next delimiter.
		for s.pos < len(s.data) {
			switch s.data[s.pos] {
			case ',', ']', '}', ' ', '\t', '\n', '\r', '"', '[', '{':
				return
			}
			s.pos++
		}
	}
}

// stringEnd returns the end of the string at pos, past its closing quote.
func (s *scanner) stringEnd() int {
	for i := s.pos + 1; i < len(s.data); i++ {
		switch s.data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(s.data)
}

// str scans the string at pos, its opening quote, up to past its closing
// quote.
func (s *scanner) str() {
	s.pos++
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return
		case c == '\\':
			if s.pos+1 < len(s.data) && s.data[s.pos+1] == 'u' {
				s.escapedRune()
				if s.problem != nil {
					return
				}
				continue
			}
			s.pos += 2
		case c < utf8.RuneSelf:
			s.pos++
		default:
			r, size := utf8.DecodeRune(s.data[s.pos:])
			if r == utf8.RuneError && size == 1 {
				s.fail(InvalidUTF8)
				return
			}
			s.pos += size
		}
	}
}

// escapedRune scans a \uXXXX escape at pos, and the low half that must
// follow a high surrogate.
func (s *scanner) escapedRune() {
	r, ok := s.hex4(s.pos)
	if !ok {
		s.pos += 2
		return
	}
	s.pos += 6
	switch {
	case r >= 0xdc00 && r <= 0xdfff:
		s.fail(LoneSurrogate)
	case r >= 0xd800 && r <= 0xdbff:
		if s.pos+1 < len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
			if low, ok := s.hex4(s.pos); ok && low >= 0xdc00 && low <= 0xdfff {
				s.pos += 6
				return
			}
		}
		s.fail(LoneSurrogate)
	}
}

// hex4 reads the four hex digits of the \u escape at i.
func (s *scanner) hex4(i int) (rune, bool) {
	if i+6 > len(s.data) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s.data[i+2:i+6]), 16, 32)
	return rune(n), err == nil
}

// NUL returns the path of the first string in v that holds a NUL character
// (U+0000), as the JSON that v was decoded from names it: struct fields by
// their JSON names, map keys (which are checked too), slice elements by
// index. Raw JSON (json.RawMessage, []byte) is not text and is not looked
// into. v is typically a pointer to what a request body was decoded into.
func NUL(v any) (string, bool) {
	return nulIn(reflect.ValueOf(v), "")
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func nulIn(v reflect.Value, path string) (string, bool) {
	switch v.Kind() {
	case reflect.String:
		if strings.IndexByte(v.String(), 0) >= 0 {
			return path, true
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return nulIn(v.Elem(), path)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return "", false
		}
		for i := range v.Len() {
			if p, ok := nulIn(v.Index(i), path+"["+strconv.Itoa(i)+"]"); ok {
				return p, true
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			k := iter.Key()
			name := k.String()
			if k.Kind() != reflect.String {
				name = "?"
			}
			if p, ok := nulIn(k, join(path, name)); ok {
				return p, true
			}
			if p, ok := nulIn(iter.Value(), join(path, name)); ok {
				return p, true
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			fieldPath := path
			switch {
			case name != "":
				fieldPath = join(path, name)
			case !f.Anonymous:
				fieldPath = join(path, f.Name)
			}
			if p, ok := nulIn(v.Field(i), fieldPath); ok {
				return p, true
			}
		}
	}
	return "", false
}
