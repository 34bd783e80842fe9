// Package openapi holds the OpenAPI 3.1 description of Herald's HTTP API:
// every route of every family (Layer's server API in each version, the
// Client API, Callbell's /v1, Herald's own webhooks, events, tokens, keys,
// exports and signed URLs) and, as the document's webhooks, the payloads
// Herald delivers in each format and version. It is built in Go from one
// file per family, next to nothing but the shapes, and served at
// GET /openapi.json. The http package's tests check that every route the
// server registers is described, and validate the requests and responses
// of the whole test suite, and the deliveries its receivers get, against
// it.
package openapi

import (
	"encoding/json"
	"net/http"
	"sync"
)

// Version is the version of the API the document describes.
const Version = "1.0.0"

var document = sync.OnceValue(func() []byte {
	b, err := json.MarshalIndent(build(), "", "  ")
	if err != nil {
		panic(err)
	}
	return b
})

// Document returns the OpenAPI document as JSON.
func Document() []byte { return document() }

// Handler serves the document.
func Handler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(Document())
}

func build() M {
	b := &builder{paths: map[string]M{}, schemas: M{}, webhooks: M{}, ops: map[string]bool{}}
	heraldSchemas(b)
	layerSchemas(b)
	callbellSchemas(b)
	heraldRoutes(b)
	layerRoutes(b)
	callbellRoutes(b)
	webhookPayloads(b)
	paths := M{}
	for p, item := range b.paths {
		paths[p] = item
	}
	return M{
		"openapi":           "3.1.0",
		"jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
		"info": M{"title": "Herald", "version": Version,
			"description": "Herald serves Layer's server API (Platform API 1.0 and 1.1, Server API 2.0 and 3.0, chosen per request by " +
				"Accept: application/vnd.layer+json; version=X, 1.1 by default), Layer's Client API (REST at the root and a WebSocket), " +
				"Callbell's /v1, and its own management routes. Objects whose shape differs between Layer versions describe every version: " +
				"users are a oneOf of 1.x's bare user id and 2.0/3.0's Basic Identity (UserRef, Sender), and properties rendered by some " +
				"versions only (3.0's identity_type, parts' url and updated_at) are optional. Every error, of every family, is Layer's error " +
				"object (Error) with a status from 400 to 507; GET /errors lists them. Webhook payloads are under webhooks: Layer's 1.0, " +
				"2.0 and 3.0 and Callbell's, with their headers."},
		"servers":  []any{M{"url": "http://127.0.0.1:8080", "description": "A local Herald (herald serve)."}},
		"security": []any{M{"appToken": []any{}}},
		"tags": []any{
			M{"name": layerTag, "description": "Layer's Platform API (1.0, 1.1) and Server API (2.0, 3.0): choose with Accept."},
			M{"name": "Client API", "description": "Layer's Client API for end users' apps: session tokens, REST at the root, the WebSocket."},
			M{"name": callbellTag, "description": "Callbell's API: the app is the token's."},
			M{"name": "Webhooks", "description": "Layer-format webhooks, their deliveries, replays and signing keys."},
		},
		"paths": paths,
		"components": M{
			"schemas": b.schemas,
			"securitySchemes": M{
				"appToken":     M{"type": "http", "scheme": "bearer", "description": "An app token (Authorization: Bearer <token>): `herald app create` prints the first, POST /apps/{app}/tokens makes more. Callbell's /v1 takes the same token."},
				"metricsToken": M{"type": "http", "scheme": "bearer", "description": "The metrics token (HERALD_METRICS_TOKEN), when the server was given one: GET /metrics asks for it then."},
				"session": M{"type": "apiKey", "in": "header", "name": "Authorization",
					"description": "A Client API session: Authorization: Layer session-token=\"<token>\", the token POST /sessions gave."},
			},
			"responses": M{"Error": M{"description": "An error, in Layer's error object (every family's, /v1's too).",
				"content": jsonContent(ref("Error"))}},
			"headers": M{
				"Link":        M{"description": "The next page of a full page: <url>; rel=\"next\".", "schema": str("")},
				"Layer-Count": M{"description": "How many objects the listing pages through.", "schema": str("")},
				"Location":    M{"description": "The URL of the object created.", "schema": str("")},
			},
		},
		"webhooks": b.webhooks,
	}
}
