package openapi

// Herald's own routes: health, the error catalogue, this document, app
// tokens, identity provider keys, the event log, webhooks and their
// deliveries, push providers, the signed content URLs, and the Client
// API (sessions, REST at the root, the WebSocket).

var signedQuery = []M{
	{"name": "expires", "in": "query", "required": true, "description": "When the URL expires, in Unix seconds.", "schema": str("")},
	{"name": "signature", "in": "query", "required": true, "description": "Herald's signature of the URL.", "schema": str("")},
}

func heraldSchemas(b *builder) {
	s := b.schemas
	s["Error"] = M{"description": "Layer's error object: every error of every family, /v1's included.", "type": "object", "additionalProperties": false,
		"required": []any{"id", "code", "message", "url"},
		"properties": M{"id": str("A stable name: see GET /errors."), "code": integer, "message": str("For people."),
			"url": M{"type": "string", "format": "uri", "description": "Where the error is described (GET /errors#<id>)."},
			"data": M{"description": "More about the error: data.property names a property at fault; a 409 on a distinct conversation holds the conversation.",
				"anyOf": []any{anyObject, M{"type": "array"}}}}}
	s["Token"] = object(M{"id": str(""), "url": uri, "name": str(""), "prefix": str("The token's first characters, to recognise it."),
		"created_at": dateTime, "last_used_at": orNull(dateTime), "token": str("The token itself: in the response that creates it only.")},
		"id", "url", "name", "prefix", "created_at", "last_used_at")
	s["IdentityKey"] = closed(M{"id": str("layer:///keys/<uuid>"), "url": uri, "provider_id": str(""), "public_key": str("PEM"), "created_at": dateTime})
	s["Event"] = closed(M{"id": str(""), "type": str("message.sent, conversation.created, ..."), "created_at": dateTime,
		"actor": orNull(open(M{"user_id": str(""), "name": str("")})), "data": M{"description": "The event's objects, as Herald stores them."}})
	s["Webhook"] = object(M{"id": str("layer:///apps/<app>/webhooks/<uuid>"), "url": uri, "format": strEnum("layer", "callbell"), "version": str("The payload version: 1.0, 2.0 or 3.0 for layer."),
		"target_url": uri, "events": arrayOf(str("")), "status": strEnum("unverified", "active", "inactive"), "status_reason": str(""),
		"created_at": dateTime, "config": M{"type": "object", "description": "The webhook's free-form config object, added to Layer payloads."}, "retry_schedule": arrayOf(number), "timeout_seconds": number,
		"signing_secret":     str("whsec_…: in the responses that create the webhook or rotate its keys only."),
		"signing_public_key": str("The ed25519 key that verifies v1a signatures."),
		"rotation":           object(M{"grace_until": dateTime, "previous_signing_public_key": str("")}, "grace_until")},
		"id", "url", "format", "version", "target_url", "events", "status", "created_at", "config", "retry_schedule", "timeout_seconds")
	s["WebhookInput"] = open(M{"target_url": uri, "events": arrayOf(str("")), "event_types": arrayOf(str("Layer's 2016 name of events.")),
		"version": str(""), "secret": str("The Layer signature's HMAC key."), "config": orNull(anyObject),
		"retry_schedule": arrayOf(number), "timeout_seconds": number, "signing": anyJSON}, "target_url")
	attempt := closed(M{"started_at": dateTime, "duration_ms": number, "status_code": integer,
		"response_headers": orNull(mapOf(arrayOf(str("")))), "response_body": str(""), "error": str("")})
	s["Delivery"] = object(M{"id": str(""), "event_id": str(""), "event_type": str(""), "status": strEnum("pending", "delivered", "failed"),
		"attempts": integer, "next_attempt_at": orNull(dateTime), "last_status_code": integer, "last_error": str(""), "created_at": dateTime,
		"delivered_at": orNull(dateTime), "payload": M{"description": "The body sent (GET of one delivery)."}, "attempt_log": arrayOf(attempt)},
		"id", "event_id", "event_type", "status", "attempts", "next_attempt_at", "last_status_code", "last_error", "created_at", "delivered_at")
	s["PushProvider"] = object(M{"kind": strEnum("apns", "fcm", "webhook"), "team_id": str(""), "key_id": str(""), "bundle_id": str(""),
		"environment": str(""), "project_id": str(""), "client_email": str(""), "token_uri": str(""), "private_key_id": str(""), "url": uri,
		"secret":     str("Generated (the webhook provider's whsec_…): in the response that configures it only."),
		"created_at": dateTime, "updated_at": dateTime}, "kind", "created_at", "updated_at")
}

func heraldRoutes(b *builder) {
	tags := func(t string) []string { return []string{t} }
	none := []M{}
	b.add("GET /health", op{ID: "health", Summary: "Whether Herald is serving", Tags: tags("Operations"), Auth: none,
		Responses: status(200, ok("Serving.", closed(M{"status": strEnum("ok")})))})
	b.add("GET /errors", op{ID: "listErrors", Summary: "The error catalogue that errors' url fields point into", Tags: tags("Operations"), Auth: none,
		Responses: status(200, ok("Every error id.", arrayOf(closed(M{"id": str(""), "code": integer, "status": integer, "description": str("")}))))})
	b.add("GET /metrics", op{ID: "metrics", Summary: "Prometheus metrics (when served on the API's listener)", Tags: tags("Operations"),
		Auth: []M{{}, {"metricsToken": []any{}}},
		Responses: status(200, M{"description": "The Prometheus exposition of Herald's counters, gauges and histograms.",
			"content": M{"text/plain": M{"schema": str("")}, "application/openmetrics-text": M{"schema": str("")}}})})
	b.add("GET /openapi.json", op{ID: "openapi", Summary: "This document", Tags: tags("Operations"), Auth: none,
		Responses: status(200, ok("The OpenAPI 3.1 document of Herald's API.", anyObject))})

	b.add("GET /apps/{app}/tokens", op{ID: "listTokens", Summary: "List the app's tokens", Tags: tags("App tokens"),
		Responses: status(200, ok("The tokens, without their secrets.", arrayOf(ref("Token"))))})
	b.add("POST /apps/{app}/tokens", op{ID: "createToken", Summary: "Create an app token", Tags: tags("App tokens"),
		Body: open(M{"name": str("")}), Responses: status(201, ok("The token, with its secret (shown once).", ref("Token")))})
	b.add("DELETE /apps/{app}/tokens/{id}", op{ID: "revokeToken", Summary: "Revoke an app token", Tags: tags("App tokens"), Responses: status(204, empty("Revoked."))})

	b.add("POST /apps/{app}/keys", op{ID: "createIdentityKey", Summary: "Register a public key of the app's identity provider", Tags: tags("Identity provider keys"),
		Body: open(M{"public_key": str("PEM")}, "public_key"), Responses: status(201, ok("The key.", ref("IdentityKey"), "Location"))})
	b.add("GET /apps/{app}/keys", op{ID: "listIdentityKeys", Summary: "List the identity provider's keys", Tags: tags("Identity provider keys"),
		Responses: status(200, ok("The keys.", arrayOf(ref("IdentityKey"))))})
	b.add("DELETE /apps/{app}/keys/{id}", op{ID: "deleteIdentityKey", Summary: "Delete an identity provider key", Tags: tags("Identity provider keys"), Responses: status(204, empty("Deleted."))})

	b.add("GET /apps/{app}/events", op{ID: "listEvents", Summary: "Read the app's event log, oldest first", Tags: tags("Events"),
		Query:     []M{query("after", "Start after this event id.", str("")), query("limit", "1 to 1000, 100 by default.", M{"type": "integer", "minimum": 1, "maximum": 1000})},
		Responses: status(200, ok("Events.", arrayOf(ref("Event"))))})

	wt := tags("Webhooks")
	hook := ok("The webhook.", ref("Webhook"))
	b.add("POST /apps/{app}/webhooks", op{ID: "createWebhook", Summary: "Register a Layer-format webhook", Tags: wt, Body: ref("WebhookInput"),
		Responses: status(201, ok("Registered; unverified until its target answers the verification challenge.", ref("Webhook")))})
	b.add("GET /apps/{app}/webhooks", op{ID: "listWebhooks", Summary: "List the app's webhooks", Tags: wt, Responses: status(200, ok("The webhooks.", arrayOf(ref("Webhook"))))})
	b.add("GET /apps/{app}/webhooks/{id}", op{ID: "getWebhook", Summary: "Get a webhook", Tags: wt, Responses: status(200, hook)})
	b.add("DELETE /apps/{app}/webhooks/{id}", op{ID: "deleteWebhook", Summary: "Delete a webhook", Tags: wt, Responses: status(204, empty("Deleted."))})
	b.add("PATCH /apps/{app}/webhooks/{id}", op{ID: "patchWebhook", Summary: "Change a webhook's target, events, config, retries or timeout", Tags: wt,
		Body:      open(M{"target_url": uri, "events": arrayOf(str("")), "config": orNull(anyObject), "retry_schedule": arrayOf(number), "timeout_seconds": number}),
		Responses: status(200, hook)})
	hdrs := M{"type": "object", "additionalProperties": arrayOf(str(""))}
	b.add("POST /apps/{app}/webhooks/{id}/test", op{ID: "testWebhook", Summary: "Send a signed test event (webhook.test, webhook_test) now and answer its outcome", Tags: wt,
		Responses: status(200, ok("The attempt, delivered or not.", closed(M{"id": str(""), "event_type": str(""), "delivered": boolean, "started_at": dateTime,
			"duration_ms": number, "status_code": integer, "response_headers": hdrs, "response_body": str(""), "error": str(""),
			"request_headers": hdrs, "payload": anyJSON})))})
	b.add("POST /apps/{app}/webhooks/{id}/activate", op{ID: "activateWebhook", Summary: "Activate a webhook (verifying it again when needed)", Tags: wt, Responses: status(200, hook)})
	b.add("POST /apps/{app}/webhooks/{id}/deactivate", op{ID: "deactivateWebhook", Summary: "Pause a webhook's deliveries", Tags: wt, Responses: status(200, hook)})
	b.add("POST /apps/{app}/webhooks/{id}/replay", op{ID: "replayWebhook", Summary: "Queue again the deliveries of a time range", Tags: wt,
		Body: open(M{"since": orNull(dateTime), "until": orNull(dateTime)}), BodyOptional: true,
		Responses: status(202, ok("Queued.", object(M{"queued": integer, "already_queued": integer, "resume_since": dateTime}, "queued", "already_queued")))})
	b.add("POST /apps/{app}/webhooks/{id}/rotate_secret", op{ID: "rotateWebhookSecret", Summary: "Rotate a webhook's signing keys", Tags: wt,
		Body: open(M{"grace_period_seconds": number}), BodyOptional: true, Responses: status(200, ok("The webhook with its new signing_secret; the old keys sign too until rotation.grace_until.", ref("Webhook")))})
	b.add("GET /apps/{app}/webhooks/{id}/deliveries", op{ID: "listDeliveries", Summary: "List a webhook's deliveries, newest first", Tags: wt,
		Query: append([]M{query("status", "Only deliveries in this status.", strEnum("pending", "delivered", "failed")),
			query("event_type", "Only deliveries of this event.", str("")), query("conversation", "Only deliveries about this conversation (bare or its Layer id).", str("")),
			query("since", "Only deliveries created at or after (RFC 3339).", dateTime), query("until", "Only deliveries created before (RFC 3339).", dateTime)}, paging...),
		Responses: status(200, ok("A page of deliveries.", arrayOf(ref("Delivery")), "Link"))})
	b.add("GET /apps/{app}/webhooks/{id}/deliveries/{delivery}", op{ID: "getDelivery", Summary: "Get a delivery with its payload and attempts", Tags: wt,
		Responses: status(200, ok("The delivery.", ref("Delivery")))})
	b.add("POST /apps/{app}/webhooks/{id}/deliveries/{delivery}/resend", op{ID: "resendDelivery", Summary: "Send a delivery again", Tags: wt,
		Responses: status(202, ok("Queued.", ref("Delivery")))})

	pt := tags("Push providers")
	b.add("GET /apps/{app}/push_providers", op{ID: "listPushProviders", Summary: "List the app's push providers", Tags: pt, Responses: status(200, ok("The providers.", arrayOf(ref("PushProvider"))))})
	b.add("PUT /apps/{app}/push_providers/{kind}", op{ID: "putPushProvider", Summary: "Configure a push provider", Tags: pt, Body: anyObject,
		Responses: status(200, ok("The provider.", ref("PushProvider")))})
	b.add("DELETE /apps/{app}/push_providers/{kind}", op{ID: "deletePushProvider", Summary: "Remove a push provider", Tags: pt, Responses: status(204, empty("Removed."))})

	st := tags("Signed URLs")
	bytes := M{"*/*": M{}}
	uploaded := ok("Uploaded: the content.", ref("Content"))
	b.add("PUT /uploads/{id}", op{ID: "upload", Summary: "Upload declared content (whole, or resumed with Content-Range)", Tags: st, Auth: none, Query: signedQuery,
		Content: bytes, BodyOptional: true,
		Responses: status(200, uploaded, 308, M{"description": "Incomplete: Range says which bytes arrived (GCS's Resume Incomplete).",
			"headers": M{"Range": M{"schema": str("")}}})})
	b.add("POST /uploads/{id}", op{ID: "uploadForm", Summary: "Upload declared content as a multipart form (its file part)", Tags: st, Auth: none, Query: signedQuery,
		Content:   M{"multipart/form-data": M{"schema": M{"type": "object", "properties": M{"file": M{"type": "string", "contentMediaType": "application/octet-stream"}}}}},
		Responses: status(200, uploaded)})
	b.add("OPTIONS /uploads/{id}", op{ID: "uploadPreflight", Summary: "CORS preflight of an upload", Tags: st, Auth: none, Query: signedQuery,
		Responses: status(204, empty("Allowed."))})
	b.add("GET /content/{id}", op{ID: "downloadContent", Summary: "Download content (signed URL), or refresh its download URL (Client API session)", Tags: st,
		Auth:  []M{{}, {"session": []any{}}},
		Query: []M{query("expires", "The signed URL's expiry; with signature, the request is a download.", str("")), query("signature", "The signed URL's signature.", str(""))},
		// Downloads are of any type, application/json included: the
		// document cannot tell a JSON download from a refresh by type.
		Responses: status(200, M{"description": "With a signature: the bytes, in the content's own type. With a session: the content (Content) with a fresh download_url.",
			"content": M{"*/*": M{}}})})

	ct := tags("Client API")
	session := []M{{"session": []any{}}}
	b.add("POST /nonces", op{ID: "createNonce", Summary: "Get a nonce for the identity provider's identity token", Tags: ct, Auth: none,
		Responses: status(201, ok("The nonce.", closed(M{"nonce": str("")})))})
	b.add("POST /sessions", op{ID: "createSession", Summary: "Trade an identity token for a session token", Tags: ct, Auth: none,
		Body:      open(M{"identity_token": str("JWT"), "app_id": str("layer:///apps/staging/<uuid> or the uuid")}, "identity_token", "app_id"),
		Responses: status(201, ok("The session.", closed(M{"session_token": str("")})))})
	b.add("DELETE /sessions/{token}", op{ID: "deleteSession", Summary: "End a session (the token is the credential)", Tags: ct, Auth: none, Responses: status(204, empty("Ended."))})
	socket := op{Summary: "Open the Client API's WebSocket (subprotocol layer-2.0 or layer-3.0), or check a session (?action=validateConnectionForWebsocket)",
		Tags: ct, Auth: []M{{"session": []any{}}, {}},
		Query: []M{query("session_token", "The session, as the Web SDK sends it on the upgrade.", str("")),
			query("action", "validateConnectionForWebsocket: check the session without opening a socket.", strEnum("validateConnectionForWebsocket"))},
		Headers:   []M{header("Upgrade", "websocket", str("")), header("Sec-WebSocket-Protocol", "layer-2.0 or layer-3.0", str(""))},
		Responses: status(101, empty("Switching to the WebSocket protocol."), 204, empty("The session holds."))}
	socket.ID = "openSocket"
	b.add("GET /{$}", socket)
	socket.ID = "openSocketAtWebsocket"
	b.add("GET /websocket", socket)
	socket.ID = "openSocketAtWebsocketSlash"
	b.add("GET /websocket/{$}", socket)
	b.add("GET /ping", op{ID: "ping", Summary: "The Web SDK's online check", Tags: ct, Auth: none, Responses: status(204, empty("Online."))})

	chdr := []M{header("Accept", "application/vnd.layer+json; version=2.0 (default) or 3.0.", str(""))}
	clientPage := []M{query("page_size", "1 to 100, 100 by default.", M{"type": "integer", "minimum": 1, "maximum": 100}), paging[1]}
	c := func(pattern, id, summary string, o op) {
		o.ID, o.Summary, o.Tags, o.Auth = id, summary, ct, session
		o.Headers = append(append([]M{}, chdr...), o.Headers...)
		b.add(pattern, o)
	}
	noContent := empty("Done.")
	c("GET /conversations", "clientListConversations", "List the session user's conversations", op{
		Query:     append([]M{query("sort_by", "created_at or last_message.", strEnum("created_at", "last_message"))}, clientPage...),
		Responses: status(200, ok("A page of conversations.", arrayOf(ref("UserConversation")), "Layer-Count", "Link"))})
	c("POST /conversations", "clientCreateConversation", "Create a conversation", op{Body: ref("ConversationInput"),
		Responses: status(201, ok("Created.", ref("UserConversation"), "Location"), 200, ok("The distinct conversation that existed.", ref("UserConversation")))})
	c("GET /conversations/{conv}", "clientGetConversation", "Get a conversation", op{Responses: status(200, ok("The conversation.", ref("UserConversation")))})
	c("PATCH /conversations/{conv}", "clientPatchConversation", "Change a conversation", op{Body: ref("ConversationPatch"), Responses: status(204, noContent)})
	c("DELETE /conversations/{conv}", "clientDeleteConversation", "Delete or leave a conversation", op{
		Query:     []M{query("mode", "my_devices or all_participants.", strEnum("my_devices", "all_participants")), query("leave", "Leave it too.", boolean)},
		Responses: status(204, noContent)})
	c("POST /conversations/{conv}/mark_all_read", "clientMarkAllRead", "Mark messages read up to a position", op{
		Body: open(M{"position": orNull(integer)}), BodyOptional: true, Responses: status(204, noContent)})
	c("GET /conversations/{conv}/messages", "clientListMessages", "List a conversation's messages", op{Query: clientPage,
		Responses: status(200, ok("A page of messages.", arrayOf(ref("Message")), "Layer-Count", "Link"))})
	c("POST /conversations/{conv}/messages", "clientSendMessage", "Send a message", op{Body: ref("MessageInput"),
		Responses: status(201, ok("Sent.", ref("Message")), 202, ok("Scheduled.", ref("ScheduledMessage")))})
	c("GET /messages/{msg}", "clientGetMessage", "Get a message", op{Responses: status(200, ok("The message.", ref("Message")))})
	c("DELETE /messages/{msg}", "clientDeleteMessage", "Delete a message", op{
		Query: []M{query("mode", "my_devices or all_participants.", strEnum("my_devices", "all_participants"))}, Responses: status(204, noContent)})
	c("POST /messages/{msg}/receipts", "clientPostReceipt", "Mark a message delivered or read", op{Body: ref("Receipt"), Responses: status(204, noContent)})
	c("GET /identities", "clientListIdentities", "List the identities the user follows", op{Query: clientPage,
		Responses: status(200, ok("The identities; a followed user without one as a Basic Identity.", arrayOf(ref("FollowedIdentity")), "Layer-Count", "Link"))})
	c("GET /identities/{user}", "clientGetIdentity", "Get an identity", op{Responses: status(200, ok("The identity.", ref("Identity")))})
	c("GET /following", "clientListFollowing", "List whom the user follows", op{Query: clientPage,
		Responses: status(200, ok("Identity ids.", arrayOf(str("")), "Layer-Count", "Link"))})
	c("POST /following/users", "clientFollowMany", "Follow users", op{Body: arrayOf(str("user id or identity id")), Responses: status(202, empty("Followed."))})
	c("GET /following/users/{followed}", "clientIsFollowing", "Whether the user follows another", op{Responses: status(204, empty("Followed; 404 when not."))})
	c("PUT /following/users/{followed}", "clientFollow", "Follow a user", op{Responses: status(204, noContent)})
	c("DELETE /following/users/{followed}", "clientUnfollow", "Unfollow a user", op{Responses: status(204, noContent)})
	c("DELETE /following/{followed}", "clientUnfollowShort", "Unfollow a user (the Web SDK's path)", op{Responses: status(204, noContent)})
	c("GET /announcements", "clientListAnnouncements", "List the user's announcements", op{Query: clientPage,
		Responses: status(200, ok("A page of announcements.", arrayOf(ref("Announcement")), "Layer-Count", "Link"))})
	c("GET /announcements/{id}", "clientGetAnnouncement", "Get an announcement", op{Responses: status(200, ok("The announcement.", ref("Announcement")))})
	c("DELETE /announcements/{id}", "clientDeleteAnnouncement", "Delete an announcement", op{Responses: status(204, noContent)})
	c("POST /announcements/{id}/receipts", "clientPostAnnouncementReceipt", "Mark an announcement read", op{Body: ref("Receipt"), Responses: status(204, noContent)})
	c("POST /content", "clientCreateContent", "Declare rich content to upload", op{
		Headers:   []M{header("Upload-Content-Type", "The content's media type.", str("")), header("Upload-Content-Length", "Its size in bytes.", integer)},
		Responses: status(201, ok("Declared: upload the bytes to upload_url.", ref("Content"), "Location"))})
	c("POST /push_tokens", "clientRegisterPushToken", "Register the device's push token", op{Body: ref("PushTokenInput"), Responses: status(202, empty("Registered."))})
	c("DELETE /push_tokens/{device}", "clientUnregisterPushToken", "Unregister a device", op{Responses: status(202, empty("Unregistered."))})

	// The preflights of the routes browsers call (AllowCORS).
	for _, p := range []string{"/ping", "/nonces", "/sessions", "/sessions/{token}", "/conversations", "/conversations/{conv}",
		"/conversations/{conv}/mark_all_read", "/conversations/{conv}/messages", "/messages/{msg}", "/messages/{msg}/receipts",
		"/identities", "/identities/{user}", "/following", "/following/users", "/following/users/{followed}", "/following/{followed}",
		"/announcements", "/announcements/{id}", "/announcements/{id}/receipts", "/content", "/content/{id}", "/push_tokens", "/push_tokens/{device}"} {
		b.add("OPTIONS "+p, op{ID: "preflight" + operationName(p), Summary: "CORS preflight", Tags: []string{"CORS preflights"}, Auth: none,
			Responses: status(204, M{"description": "Allowed: the Access-Control-Allow-* headers say what.",
				"headers": M{"Allow": M{"schema": str("")}}})})
	}
}

// operationName makes an operationId's suffix of a path:
// /conversations/{conv}/messages → ConversationsConvMessages.
func operationName(path string) string {
	var out []byte
	up := true
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '/' || c == '{' || c == '}' || c == '_':
			up = true
		case up && c >= 'a' && c <= 'z':
			out = append(out, c-'a'+'A')
			up = false
		default:
			out = append(out, c)
			up = false
		}
	}
	return string(out)
}
