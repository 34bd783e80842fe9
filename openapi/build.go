package openapi

import (
	"fmt"
	"sort"
	"strings"
)

// M is a JSON object of the document.
type M = map[string]any

// builder assembles the document from the families' operations and
// schemas; each family's file adds its own (see Document).
type builder struct {
	paths    map[string]M
	schemas  M
	webhooks M
	// ops are the operations added, as "METHOD pattern", to catch a
	// route described twice.
	ops map[string]bool
}

// op describes one route.
type op struct {
	// ID is the operationId: the name of the method a generated client
	// gets.
	ID      string
	Summary string
	Doc     string
	Tags    []string
	// Auth is the route's security requirement; nil is the app token.
	Auth []M
	// Query lists the query parameters.
	Query []M
	// Headers lists request header parameters.
	Headers []M
	// Body is the JSON request body's schema; BodyOptional lets it be
	// absent. Content replaces Body for a request that is not JSON.
	Body         M
	BodyOptional bool
	Content      M
	// Responses maps status codes to responses; errors not listed fall to
	// the default response, the error object.
	Responses map[string]M
	// NoDefault leaves out the default error response, for routes whose
	// every answer is listed.
	NoDefault bool
}

// add registers o under a ServeMux pattern ("GET /apps/{app}/events").
func (b *builder) add(pattern string, o op) {
	if b.ops[pattern] {
		panic("openapi: route described twice: " + pattern)
	}
	b.ops[pattern] = true
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		panic("openapi: pattern without a method: " + pattern)
	}
	oaPath, params := PathOf(path)
	item := b.paths[oaPath]
	if item == nil {
		item = M{}
		b.paths[oaPath] = item
	}
	out := M{"operationId": o.ID, "summary": o.Summary, "tags": o.Tags}
	if o.ID == "" || o.Summary == "" || len(o.Tags) == 0 {
		panic("openapi: operation without id, summary or tags: " + pattern)
	}
	if o.Doc != "" {
		out["description"] = o.Doc
	}
	var ps []any
	for _, p := range params {
		ps = append(ps, M{"name": p, "in": "path", "required": true, "schema": M{"type": "string"},
			"description": pathParamDoc(p)})
	}
	for _, q := range o.Query {
		ps = append(ps, q)
	}
	for _, h := range o.Headers {
		ps = append(ps, h)
	}
	if len(ps) > 0 {
		out["parameters"] = ps
	}
	if o.Auth != nil {
		out["security"] = o.Auth
	}
	switch {
	case o.Content != nil:
		out["requestBody"] = M{"required": !o.BodyOptional, "content": o.Content}
	case o.Body != nil && isPatch(o.Body):
		// Layer-Patch bodies may be sent as Layer's media type or as JSON.
		out["requestBody"] = M{"required": !o.BodyOptional, "content": M{"application/vnd.layer-patch+json": M{"schema": o.Body},
			"application/json": M{"schema": o.Body}}}
	case o.Body != nil:
		out["requestBody"] = M{"required": !o.BodyOptional, "content": M{"application/json": M{"schema": o.Body}}}
	}
	rs := M{}
	for code, r := range o.Responses {
		rs[code] = r
	}
	if !o.NoDefault {
		rs["default"] = M{"$ref": "#/components/responses/Error"}
	}
	out["responses"] = rs
	item[strings.ToLower(method)] = out
}

// PathOf turns a ServeMux path pattern into an OpenAPI path and the names
// of its parameters: "{$}" ends the path, "{name...}" is not used by
// Herald.
func PathOf(pattern string) (string, []string) {
	pattern = strings.TrimSuffix(pattern, "{$}")
	var params []string
	for rest := pattern; ; {
		_, after, ok := strings.Cut(rest, "{")
		if !ok {
			break
		}
		name, tail, _ := strings.Cut(after, "}")
		params = append(params, name)
		rest = tail
	}
	return pattern, params
}

func pathParamDoc(name string) string {
	switch name {
	case "app":
		return "The app's id (its UUID)."
	case "user", "followed", "blocked":
		return "A user id, as the app's identity provider names the user."
	case "conv":
		return "A conversation's UUID, or its Layer id (layer:///conversations/<uuid>) escaped."
	case "msg":
		return "A message's UUID."
	case "part":
		return "A part's index (1.0, 1.1, 2.0) or its id (3.0)."
	}
	return "The object's id."
}

// isPatch reports whether a body is Layer-Patch operations, alone or
// among other shapes.
func isPatch(body M) bool {
	if body["$ref"] == "#/components/schemas/Patch" || body["$ref"] == "#/components/schemas/ConversationPatch" {
		return true
	}
	alts, _ := body["oneOf"].([]any)
	for _, a := range alts {
		if m, ok := a.(M); ok && isPatch(m) {
			return true
		}
	}
	return false
}

// Schemas and responses.

func ref(name string) M { return M{"$ref": "#/components/schemas/" + name} }

func arrayOf(items M) M { return M{"type": "array", "items": items} }

func str(doc string) M {
	if doc == "" {
		return M{"type": "string"}
	}
	return M{"type": "string", "description": doc}
}

func strEnum(values ...string) M {
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = v
	}
	return M{"type": "string", "enum": out}
}

var (
	integer   = M{"type": "integer"}
	number    = M{"type": "number"}
	boolean   = M{"type": "boolean"}
	anyObject = M{"type": "object"}
	dateTime  = M{"type": "string", "format": "date-time"}
	uri       = M{"type": "string", "format": "uri"}
	// anyJSON is any JSON value: what the document does not constrain.
	anyJSON = M{}
	// anyValue is anyJSON where kin-openapi needs null said outright (an
	// empty schema under oneOf refuses null in v0.152.0).
	anyValue = M{"anyOf": []any{M{"type": "null"}, M{"type": "boolean"}, M{"type": "object"}, M{"type": "array"}, M{"type": "number"}, M{"type": "string"}}}
)

// orNull lets a schema be null too.
func orNull(s M) M {
	if t, ok := s["type"].(string); ok && len(s) <= 3 {
		out := M{}
		for k, v := range s {
			out[k] = v
		}
		out["type"] = []any{t, "null"}
		if e, ok := s["enum"].([]any); ok {
			out["enum"] = append(append([]any{}, e...), nil)
		}
		return out
	}
	return M{"anyOf": []any{s, M{"type": "null"}}}
}

// object is a closed object: only the properties listed, those named in
// required always there.
func object(props M, required ...string) M {
	o := M{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		r := make([]any, len(required))
		for i, n := range required {
			if _, ok := props[n]; !ok {
				panic(fmt.Sprintf("openapi: required %q is no property", n))
			}
			r[i] = n
		}
		o["required"] = r
	}
	return o
}

// open is an object that may hold more properties than those listed: the
// document does not describe all of them yet.
func open(props M, required ...string) M {
	o := object(props, required...)
	delete(o, "additionalProperties")
	return o
}

// all lists every property of props as required.
func all(props M) []string {
	out := make([]string, 0, len(props))
	for k := range props {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// closed is object(props, every property...).
func closed(props M) M { return object(props, all(props)...) }

func mapOf(values M) M { return M{"type": "object", "additionalProperties": values} }

func jsonContent(schema M) M { return M{"application/json": M{"schema": schema}} }

// ok is a JSON response.
func ok(doc string, schema M, headers ...string) M {
	r := M{"description": doc, "content": jsonContent(schema)}
	if len(headers) > 0 {
		h := M{}
		for _, name := range headers {
			h[name] = M{"$ref": "#/components/headers/" + name}
		}
		r["headers"] = h
	}
	return r
}

// empty is a response without a body.
func empty(doc string) M { return M{"description": doc} }

func status(pairs ...any) map[string]M {
	out := map[string]M{}
	for i := 0; i+1 < len(pairs); i += 2 {
		out[fmt.Sprint(pairs[i])] = pairs[i+1].(M)
	}
	return out
}

func query(name, doc string, schema M) M {
	return M{"name": name, "in": "query", "description": doc, "schema": schema}
}

func header(name, doc string, schema M) M {
	return M{"name": name, "in": "header", "description": doc, "schema": schema}
}
