package http

import "testing"

func TestCanonicalPath(t *testing.T) {
	const u, c = "0e9a2c55-54a5-4c4c-9d3e-9f0e3a4b5c6d", "0e9a2c5554a54c4c9d3e9f0e3a4b5c6d"
	for in, want := range map[string]string{
		"/apps/A/conversations/layer:///conversations/" + u + "/messages":         "/apps/A/conversations/" + u + "/messages",
		"/apps/A/conversations/layer:/conversations/" + u:                         "/apps/A/conversations/" + u,
		"/apps/A/webhooks/layer:///apps/A/webhooks/" + u + "/deliveries/" + c:     "/apps/A/webhooks/" + u + "/deliveries/" + u,
		"/apps/layer:///apps/staging/" + u + "/conversations":                     "/apps/" + u + "/conversations",
		"/apps/A/conversations/C/messages/M/parts/layer:///messages/M/parts/" + u: "/apps/A/conversations/C/messages/M/parts/" + u,
		"/apps/A/users/layer:///identities/bob/messages/" + c + "/receipts":       "/apps/A/users/bob/messages/" + u + "/receipts",
		"/apps/A/tokens/layer:///apps/A/tokens/" + u:                              "/apps/A/tokens/" + u,
		"/identities/layer:///identities/bob":                                     "/identities/bob",
		"/v1/messages/status/layer:///messages/" + u:                              "/v1/messages/status/" + u,
		"/v1/contacts/" + c:                "/v1/contacts/" + c,
		"/apps/A/users/" + c + "/identity": "/apps/A/users/" + c + "/identity",
		"/apps/A/conversations/layer:":     "/apps/A/conversations/layer:",
		"/apps/A/conversations/layer:///":  "/apps/A/conversations/layer:///",
		"/apps/A/conversations/x" + c:      "/apps/A/conversations/x" + c,
	} {
		if got, _ := canonicalPath(in); got != want {
			t.Errorf("canonicalPath(%q) = %q, want %q", in, got, want)
		}
	}
}
