package openapi

// Layer's server API (Platform API 1.0 and 1.1, Server API 2.0 and 3.0)
// and the Client API that shares its handlers (layerapi). A request picks
// its version with Accept: application/vnd.layer+json; version=X (1.1
// when it names none); responses are application/json whatever the
// version. The document describes every version in one schema per object:
// where versions differ, the property is a oneOf of the shapes (a 1.x bare
// user id or a 2.0/3.0 Basic Identity), and properties that only some
// versions render are optional (3.0's identity_type, updated_at).

const layerTag = "Layer server API"

var layerAccept = header("Accept", "The version of Layer's API the request speaks: application/vnd.layer+json; version=1.0, 1.1, 2.0 or 3.0. Without Layer's media type the request speaks 1.1; a version Herald does not serve is refused (406 invalid_header).",
	M{"type": "string", "examples": []any{"application/vnd.layer+json; version=2.0"}})

var paging = []M{
	query("page_size", "How many objects a page holds: 1 to 500 (100 on the Client API), 100 by default.", M{"type": "integer", "minimum": 1, "maximum": 500}),
	query("from_id", "Start after this object (the last of the previous page).", str("")),
}

func layerSchemas(b *builder) {
	s := b.schemas
	s["BasicIdentity"] = M{"description": "2.0 and 3.0 name users by their Basic Identity. A named system sender has only a display_name.",
		"type": "object", "additionalProperties": false, "required": []any{"display_name"},
		"properties": M{"id": orNull(str("layer:///identities/<user_id>")), "url": orNull(uri), "user_id": orNull(str("")),
			"display_name": orNull(str("")), "avatar_url": orNull(str(""))}}
	s["UserRef"] = M{"description": "A user in a list: the bare user id in 1.0 and 1.1, the Basic Identity in 2.0 and 3.0.",
		"oneOf": []any{str("user id (1.0, 1.1)"), ref("BasicIdentity")}}
	s["Sender"] = M{"description": "Who sent a message: 1.x's {user_id, name?} (a named system sender has a null user_id), a Basic Identity in 2.0 and 3.0.",
		"oneOf": []any{object(M{"user_id": orNull(str("")), "name": str("")}, "user_id"), ref("BasicIdentity")}}
	s["Metadata"] = M{"type": "object", "description": "Free-form JSON object; values are strings or nested objects of strings."}
	s["Content"] = object(M{"id": str("layer:///content/<uuid>"), "download_url": orNull(uri), "expiration": orNull(dateTime),
		"refresh_url": orNull(uri), "size": integer, "mime_type": str(""), "upload_url": uri}, "id", "download_url", "expiration", "refresh_url", "size")
	s["Part"] = object(M{"id": str("<message id>/parts/<index or id>"), "mime_type": str(""), "body": str(""), "encoding": strEnum("base64"),
		"content": ref("Content"), "updated_at": dateTime, "url": uri, "message_url": uri}, "id", "mime_type")
	s["Ref"] = closed(M{"id": str(""), "url": uri})
	s["Conversation"] = object(M{"id": str("layer:///conversations/<uuid>"), "url": uri, "messages_url": uri, "created_at": dateTime,
		"participants": arrayOf(ref("UserRef")), "distinct": boolean, "metadata": ref("Metadata")},
		"id", "url", "messages_url", "created_at", "participants", "distinct", "metadata")
	s["Message"] = object(M{"id": str("layer:///messages/<uuid>"), "url": uri, "receipts_url": uri, "conversation": ref("Ref"),
		"parts": arrayOf(ref("Part")), "sent_at": dateTime, "sender": ref("Sender"), "recipient_status": mapOf(strEnum("sent", "delivered", "read")),
		"position": integer, "is_unread": boolean, "updated_at": dateTime, "received_at": dateTime},
		"id", "url", "conversation", "parts", "sent_at", "sender", "recipient_status", "position")
	s["UserConversation"] = M{"description": "A conversation as a participant sees it.", "type": "object", "additionalProperties": false,
		"required": []any{"id", "url", "messages_url", "created_at", "participants", "distinct", "metadata", "last_message", "unread_message_count"},
		"properties": M{"id": str(""), "url": uri, "messages_url": uri, "created_at": dateTime, "participants": arrayOf(ref("UserRef")),
			"distinct": boolean, "metadata": ref("Metadata"), "last_message": orNull(ref("Message")), "unread_message_count": integer}}
	s["Identity"] = object(M{"id": str("layer:///identities/<user_id>"), "url": uri, "user_id": str(""), "display_name": orNull(str("")),
		"avatar_url": orNull(str("")), "first_name": orNull(str("")), "last_name": orNull(str("")), "phone_number": orNull(str("")),
		"email_address": orNull(str("")), "identity_type": str("3.0 and the Client API"), "type": str("the Client API"),
		"public_key": orNull(str("")), "metadata": ref("Metadata"), "created_at": dateTime, "updated_at": dateTime},
		"id", "url", "user_id", "display_name", "avatar_url", "first_name", "last_name", "phone_number", "email_address",
		"public_key", "metadata", "created_at", "updated_at")
	s["FollowedIdentity"] = M{"oneOf": []any{ref("Identity"), ref("BasicIdentity")}}
	s["IdentityInput"] = open(M{"display_name": str(""), "avatar_url": str(""), "first_name": str(""), "last_name": str(""),
		"phone_number": str(""), "email_address": str(""), "public_key": str(""), "identity_type": str(""), "metadata": ref("Metadata")})
	s["Announcement"] = object(M{"id": str("layer:///announcements/<uuid>"), "url": uri, "parts": arrayOf(ref("Part")), "sent_at": dateTime,
		"sender": ref("Sender"), "recipient_status": mapOf(str("")), "recipients": arrayOf(ref("UserRef")), "is_unread": boolean},
		"id", "parts", "sent_at", "sender", "recipient_status")
	s["PartInput"] = open(M{"mime_type": str(""), "body": str(""), "encoding": str(""), "content": open(M{"id": str(""), "size": integer})}, "mime_type")
	s["Notification"] = M{"type": "object", "description": "The push notification: text, sound, title, and per-recipient overrides."}
	s["ConversationInput"] = open(M{"id": str(""), "participants": arrayOf(anyJSON), "distinct": boolean, "metadata": ref("Metadata")})
	s["MessageInput"] = open(M{"id": str(""), "sender": anyJSON, "sender_id": anyJSON, "parts": arrayOf(ref("PartInput")),
		"notification": ref("Notification"), "schedule": anyObject}, "parts")
	s["ScheduledMessage"] = open(M{"id": str(""), "url": uri, "conversation": ref("Ref"), "schedule": anyObject, "send_at": dateTime})
	s["Patch"] = M{"description": "Layer Patch operations (application/vnd.layer-patch+json).", "type": "array",
		"items": open(M{"operation": strEnum("add", "remove", "set", "delete"), "property": str(""), "value": anyValue, "id": str(""), "index": integer}, "operation", "property")}
	s["ConversationPatch"] = M{"description": "Layer-Patch operations, or for convenience a plain object of the properties to set (participants, metadata).",
		"oneOf": []any{ref("Patch"), open(M{"participants": arrayOf(anyJSON), "metadata": orNull(ref("Metadata"))})}}
	s["Receipt"] = open(M{"type": strEnum("delivery", "read")}, "type")
	s["User"] = object(M{"id": str(""), "identity": orNull(ref("Identity")), "suspended": boolean}, "id", "identity", "suspended")
	s["Badge"] = open(M{"external_unread_count": integer, "unread_conversation_count": integer, "unread_message_count": integer})
	s["PushToken"] = object(M{"user_id": str(""), "device_id": str(""), "type": str("apns, gcm, ..."), "token": str(""), "apns_bundle_id": str(""),
		"ios_version": str(""), "gcm_sender_id": str(""), "created_at": dateTime, "updated_at": dateTime}, "user_id", "device_id", "type", "token", "created_at", "updated_at")
	s["PushTokenInput"] = open(M{"token": str(""), "type": str(""), "device_id": str(""), "apns_bundle_id": str(""), "ios_version": str(""), "gcm_sender_id": str("")})
	s["Export"] = object(M{"aes_iv": orNull(str("")), "completed_at": orNull(dateTime), "created_at": dateTime, "download_url": orNull(uri),
		"download_url_expires_at": orNull(dateTime), "encrypted_aes_key": orNull(str("")), "expired_at": orNull(dateTime), "id": str(""),
		"public_key": str(""), "started_at": orNull(dateTime), "status": strEnum("pending", "executing", "completed", "failed"),
		"status_url": uri, "type": strEnum("historical", "scheduled"), "error": str("")},
		"aes_iv", "completed_at", "created_at", "download_url", "download_url_expires_at", "encrypted_aes_key", "expired_at", "id",
		"public_key", "started_at", "status", "status_url", "type")
	s["ExportSchedule"] = object(M{"interval": str(""), "events": orNull(arrayOf(str(""))), "last_export_at": orNull(dateTime),
		"last_export_id": orNull(str("")), "next_export_at": orNull(dateTime)}, "interval")
	s["ExportScheduleInput"] = open(M{"interval": str(""), "events": orNull(arrayOf(str("")))}, "interval")
	s["ExportSecurity"] = closed(M{"public_key": str("")})
}

func layerRoutes(b *builder) {
	tags := []string{layerTag}
	hdr := []M{layerAccept}
	conv := ok("The conversation.", ref("Conversation"))
	page := func(doc, item string, extra ...string) M {
		return ok(doc, arrayOf(ref(item)), append([]string{"Link"}, extra...)...)
	}
	noContent := empty("Done.")
	accepted := func(doc string) M { return empty(doc) }
	b.add("PUT /apps/{app}/users/{user}/identity", op{ID: "putIdentity", Summary: "Create or replace a user's identity", Tags: tags, Headers: hdr,
		Body: ref("IdentityInput"), Responses: status(201, empty("Created."), 204, empty("Replaced."))})
	b.add("POST /apps/{app}/users/{user}/identity", op{ID: "createIdentity", Summary: "Create or replace a user's identity (POST, as Layer's docs)", Tags: tags, Headers: hdr,
		Body: ref("IdentityInput"), Responses: status(201, empty("Created."), 204, empty("Replaced."))})
	b.add("PATCH /apps/{app}/users/{user}/identity", op{ID: "patchIdentity", Summary: "Change a user's identity", Tags: tags, Headers: hdr,
		Body: M{"oneOf": []any{ref("Patch"), ref("IdentityInput")}}, Responses: status(204, noContent)})
	b.add("GET /apps/{app}/users/{user}/identity", op{ID: "getIdentity", Summary: "Get a user's identity", Tags: tags, Headers: hdr,
		Responses: status(200, ok("The identity.", ref("Identity")))})
	b.add("DELETE /apps/{app}/users/{user}/identity", op{ID: "deleteIdentity", Summary: "Delete a user's identity", Tags: tags, Headers: hdr, Responses: status(204, noContent)})

	b.add("POST /apps/{app}/conversations", op{ID: "createConversation", Summary: "Create a conversation", Tags: tags, Headers: hdr,
		Body: ref("ConversationInput"), Responses: status(201, ok("Created.", ref("Conversation"), "Location"), 200, ok("A distinct conversation with these participants already existed.", ref("Conversation")))})
	b.add("GET /apps/{app}/conversations", op{ID: "listConversations", Summary: "List the app's conversations", Tags: tags, Headers: hdr, Query: paging,
		Responses: status(200, page("A page of conversations, newest first.", "Conversation", "Layer-Count"))})
	b.add("GET /apps/{app}/conversations/{conv}", op{ID: "getConversation", Summary: "Get a conversation", Tags: tags, Headers: hdr, Responses: status(200, conv)})
	b.add("PATCH /apps/{app}/conversations/{conv}", op{ID: "patchConversation", Summary: "Change a conversation's participants or metadata", Tags: tags, Headers: hdr,
		Body: ref("ConversationPatch"), Responses: status(204, noContent)})
	b.add("DELETE /apps/{app}/conversations/{conv}", op{ID: "deleteConversation", Summary: "Delete a conversation for everyone", Tags: tags, Headers: hdr, Responses: status(204, noContent)})
	sortBy := query("sort_by", "created_at (default) or last_message.", strEnum("created_at", "last_message"))
	b.add("GET /apps/{app}/users/{user}/conversations", op{ID: "listUserConversations", Summary: "List a user's conversations", Tags: tags, Headers: hdr,
		Query: append([]M{sortBy}, paging...), Responses: status(200, page("A page of the user's conversations.", "UserConversation", "Layer-Count"))})
	b.add("GET /apps/{app}/users/{user}/conversations/{conv}", op{ID: "getUserConversation", Summary: "Get a conversation as a participant sees it", Tags: tags, Headers: hdr,
		Responses: status(200, ok("The conversation.", ref("UserConversation")))})
	markRead := open(M{"position": orNull(integer)})
	b.add("POST /apps/{app}/users/{user}/conversations/{conv}/mark_all_read", op{ID: "markAllRead", Summary: "Mark a user's messages read up to a position", Tags: tags, Headers: hdr,
		Body: markRead, BodyOptional: true, Responses: status(204, noContent)})
	b.add("POST /apps/{app}/users/{user}/conversations", op{ID: "createUserConversation", Summary: "Create a conversation as a user", Tags: tags, Headers: hdr,
		Body: ref("ConversationInput"), Responses: status(201, ok("Created.", ref("UserConversation"), "Location"), 200, ok("A distinct conversation with these participants already existed.", ref("UserConversation")))})
	b.add("PATCH /apps/{app}/users/{user}/conversations/{conv}", op{ID: "patchUserConversation", Summary: "Change a conversation as a participant", Tags: tags, Headers: hdr,
		Body: ref("ConversationPatch"), Responses: status(204, noContent)})
	leave := []M{query("mode", "my_devices (leave: delete for this user) or all_participants.", strEnum("my_devices", "all_participants")),
		query("leave", "Leave the conversation as well.", boolean), query("destroy", "Delete for everyone (true) or for the user (false).", boolean)}
	b.add("DELETE /apps/{app}/users/{user}/conversations/{conv}", op{ID: "deleteUserConversation", Summary: "Delete or leave a conversation as a participant", Tags: tags, Headers: hdr,
		Query: leave, Responses: status(204, noContent)})
	sent := status(201, ok("Sent.", ref("Message")), 202, ok("Scheduled: the message is sent later.", ref("ScheduledMessage")))
	b.add("POST /apps/{app}/users/{user}/conversations/{conv}/messages", op{ID: "sendUserMessage", Summary: "Send a message as a user", Tags: tags, Headers: hdr,
		Body: ref("MessageInput"), Responses: sent})
	b.add("POST /apps/{app}/conversations/{conv}/messages", op{ID: "sendMessage", Summary: "Send a message", Tags: tags, Headers: hdr, Body: ref("MessageInput"), Responses: sent})
	b.add("GET /apps/{app}/conversations/{conv}/messages", op{ID: "listMessages", Summary: "List a conversation's messages", Tags: tags, Headers: hdr, Query: paging,
		Responses: status(200, page("A page of messages, newest first.", "Message", "Layer-Count"))})
	msg := status(200, ok("The message.", ref("Message")))
	b.add("GET /apps/{app}/conversations/{conv}/messages/{msg}", op{ID: "getConversationMessage", Summary: "Get a message of a conversation", Tags: tags, Headers: hdr, Responses: msg})
	delMode := []M{query("mode", "all_participants (default) or my_devices (for one user).", strEnum("all_participants", "my_devices"))}
	b.add("DELETE /apps/{app}/conversations/{conv}/messages/{msg}", op{ID: "deleteConversationMessage", Summary: "Delete a message of a conversation", Tags: tags, Headers: hdr, Query: delMode, Responses: status(204, noContent)})
	b.add("GET /apps/{app}/messages/{msg}", op{ID: "getMessage", Summary: "Get a message", Tags: tags, Headers: hdr, Responses: msg})
	b.add("DELETE /apps/{app}/messages/{msg}", op{ID: "deleteMessage", Summary: "Delete a message", Tags: tags, Headers: hdr, Query: delMode, Responses: status(204, noContent)})
	b.add("GET /apps/{app}/users/{user}/conversations/{conv}/messages", op{ID: "listUserMessages", Summary: "List a conversation's messages as a participant", Tags: tags, Headers: hdr, Query: paging,
		Responses: status(200, page("A page of messages as the user sees them.", "Message", "Layer-Count"))})
	b.add("GET /apps/{app}/users/{user}/messages/{msg}", op{ID: "getUserMessage", Summary: "Get a message as a participant", Tags: tags, Headers: hdr, Responses: msg})
	b.add("DELETE /apps/{app}/users/{user}/messages/{msg}", op{ID: "deleteUserMessage", Summary: "Delete a message as a participant", Tags: tags, Headers: hdr, Query: delMode, Responses: status(204, noContent)})
	b.add("POST /apps/{app}/users/{user}/messages/{msg}/receipts", op{ID: "postReceipt", Summary: "Mark a message delivered or read for a user", Tags: tags, Headers: hdr,
		Body: ref("Receipt"), Responses: status(204, noContent)})
	b.add("GET /apps/{app}/conversations/{conv}/messages/{msg}/parts", op{ID: "listParts", Summary: "List a message's parts", Tags: tags, Headers: hdr,
		Responses: status(200, ok("The parts.", arrayOf(ref("Part"))))})
	b.add("POST /apps/{app}/conversations/{conv}/messages/{msg}/parts", op{ID: "addPart", Summary: "Add a part to a message", Tags: tags, Headers: hdr,
		Body: ref("PartInput"), Responses: status(201, ok("The new part.", ref("Part"), "Location"))})
	b.add("PUT /apps/{app}/conversations/{conv}/messages/{msg}/parts", op{ID: "replaceParts", Summary: "Replace a message's parts", Tags: tags, Headers: hdr,
		Body: arrayOf(ref("PartInput")), Responses: status(204, noContent)})
	b.add("GET /apps/{app}/conversations/{conv}/messages/{msg}/parts/{part}", op{ID: "getPart", Summary: "Get a message part", Tags: tags, Headers: hdr,
		Responses: status(200, ok("The part.", ref("Part")))})
	b.add("PUT /apps/{app}/conversations/{conv}/messages/{msg}/parts/{part}", op{ID: "updatePart", Summary: "Replace a message part", Tags: tags, Headers: hdr,
		Body: ref("PartInput"), Responses: status(204, noContent)})
	b.add("DELETE /apps/{app}/conversations/{conv}/messages/{msg}/parts/{part}", op{ID: "deletePart", Summary: "Delete a message part", Tags: tags, Headers: hdr, Responses: status(204, noContent)})

	b.add("POST /apps/{app}/announcements", op{ID: "sendAnnouncement", Summary: "Send an announcement", Tags: tags, Headers: hdr,
		Body:      open(M{"recipients": arrayOf(anyJSON), "sender": anyObject, "parts": arrayOf(ref("PartInput")), "notification": ref("Notification")}, "recipients", "parts"),
		Responses: status(202, ok("Sent.", ref("Announcement")))})
	b.add("GET /apps/{app}/announcements/{id}", op{ID: "getAnnouncement", Summary: "Get an announcement", Tags: tags, Headers: hdr, Responses: status(200, ok("The announcement.", ref("Announcement")))})
	b.add("POST /apps/{app}/notifications", op{ID: "sendNotification", Summary: "Send a push notification without a message", Tags: tags, Headers: hdr,
		Body: open(M{"recipients": arrayOf(str("")), "notification": ref("Notification")}, "recipients", "notification"), Responses: status(202, accepted("Queued for the recipients' devices."))})
	b.add("GET /apps/{app}/users/{user}/badge", op{ID: "getBadge", Summary: "Get a user's badge counts", Tags: tags, Headers: hdr, Responses: status(200, ok("The counts.", ref("Badge")))})
	b.add("PUT /apps/{app}/users/{user}/badge", op{ID: "putBadge", Summary: "Set a user's external unread count", Tags: tags, Headers: hdr,
		Body: open(M{"external_unread_count": orNull(integer)}), Responses: status(204, noContent)})
	b.add("GET /apps/{app}/users/{user}/announcements", op{ID: "listUserAnnouncements", Summary: "List a user's announcements", Tags: tags, Headers: hdr, Query: paging,
		Responses: status(200, page("A page of announcements.", "Announcement", "Layer-Count"))})
	b.add("GET /apps/{app}/users/{user}/announcements/{id}", op{ID: "getUserAnnouncement", Summary: "Get an announcement as its recipient", Tags: tags, Headers: hdr,
		Responses: status(200, ok("The announcement.", ref("Announcement")))})
	b.add("DELETE /apps/{app}/users/{user}/announcements/{id}", op{ID: "deleteUserAnnouncement", Summary: "Delete an announcement for its recipient", Tags: tags, Headers: hdr, Responses: status(204, noContent)})
	b.add("POST /apps/{app}/users/{user}/announcements/{id}/receipts", op{ID: "postAnnouncementReceipt", Summary: "Mark an announcement read", Tags: tags, Headers: hdr,
		Body: ref("Receipt"), Responses: status(204, noContent)})
	b.add("POST /apps/{app}/users/{user}/push_tokens", op{ID: "registerPushToken", Summary: "Register a device's push token", Tags: tags, Headers: hdr,
		Body: ref("PushTokenInput"), Responses: status(202, accepted("Registered."))})
	b.add("GET /apps/{app}/users/{user}/push_tokens", op{ID: "listPushTokens", Summary: "List a user's push tokens", Tags: tags, Headers: hdr,
		Responses: status(200, ok("The tokens.", arrayOf(ref("PushToken")), "Layer-Count"))})
	b.add("DELETE /apps/{app}/users/{user}/push_tokens/{device}", op{ID: "unregisterPushToken", Summary: "Unregister a device", Tags: tags, Headers: hdr, Responses: status(202, accepted("Unregistered."))})

	uploadHeaders := []M{layerAccept, header("Upload-Content-Type", "The media type of the content to upload.", str("")),
		header("Upload-Content-Length", "The size in bytes of the content to upload.", integer)}
	declared := status(201, ok("Declared: upload the bytes to upload_url.", ref("Content"), "Location"))
	b.add("POST /apps/{app}/conversations/{conv}/content", op{ID: "createContent", Summary: "Declare rich content to upload", Tags: tags, Headers: uploadHeaders, Responses: declared})
	b.add("GET /apps/{app}/conversations/{conv}/content/{id}", op{ID: "getConversationContent", Summary: "Get rich content with a fresh download URL", Tags: tags, Headers: hdr, Responses: status(200, ok("The content.", ref("Content")))})
	b.add("GET /apps/{app}/content/{id}", op{ID: "getContent", Summary: "Get rich content with a fresh download URL", Tags: tags, Headers: hdr, Responses: status(200, ok("The content.", ref("Content")))})
	b.add("POST /apps/{app}/users/{user}/content", op{ID: "createUserContent", Summary: "Declare rich content to upload, as a user", Tags: tags, Headers: uploadHeaders, Responses: declared})
	b.add("GET /apps/{app}/users/{user}/content/{id}", op{ID: "getUserContent", Summary: "Get rich content as a user", Tags: tags, Headers: hdr, Responses: status(200, ok("The content.", ref("Content")))})

	b.add("PATCH /apps/{app}", op{ID: "patchApp", Summary: "Change the app's settings", Tags: tags, Headers: hdr, Body: ref("Patch"), Responses: status(202, accepted("Changed."))})
	b.add("GET /apps/{app}/users/{user}", op{ID: "getUser", Summary: "Get a user", Tags: tags, Headers: hdr, Responses: status(200, ok("The user.", ref("User")))})
	b.add("PATCH /apps/{app}/users/{user}", op{ID: "patchUser", Summary: "Change a user's blocks or suspension", Tags: tags, Headers: hdr, Body: ref("Patch"), Responses: status(202, accepted("Changed."))})
	b.add("DELETE /apps/{app}/users/{user}/sessions", op{ID: "deleteSessions", Summary: "End every session of a user", Tags: tags, Headers: hdr, Responses: status(204, noContent)})
	blocked := M{"oneOf": []any{open(M{"user_id": str("")}, "user_id"), ref("Identity")}}
	b.add("GET /apps/{app}/users/{user}/blocks", op{ID: "listBlocks", Summary: "List the users a user blocks", Tags: tags, Headers: hdr,
		Responses: status(200, ok("1.x: [{user_id}]; 2.0 and 3.0: identities.", arrayOf(blocked)))})
	b.add("POST /apps/{app}/users/{user}/blocks", op{ID: "block", Summary: "Block a user", Tags: tags, Headers: hdr,
		Body: open(M{"user_id": str(""), "id": str("")}), Responses: status(204, noContent)})
	b.add("DELETE /apps/{app}/users/{user}/blocks/{blocked}", op{ID: "unblock", Summary: "Unblock a user", Tags: tags, Headers: hdr, Responses: status(204, noContent)})
	followPaging := paging
	b.add("GET /apps/{app}/users/{user}/following", op{ID: "listFollowing", Summary: "List whom a user follows", Tags: tags, Headers: hdr, Query: followPaging,
		Responses: status(200, ok("User ids (1.x) or identity ids (2.0, 3.0).", arrayOf(str("")), "Layer-Count", "Link"))})
	b.add("POST /apps/{app}/users/{user}/following", op{ID: "followMany", Summary: "Follow users", Tags: tags, Headers: hdr,
		Body: arrayOf(str("user id or identity id")), Responses: status(202, accepted("Followed."))})
	b.add("PUT /apps/{app}/users/{user}/following/{followed}", op{ID: "follow", Summary: "Follow a user", Tags: tags, Headers: hdr, Responses: status(204, noContent)})
	b.add("GET /apps/{app}/users/{user}/following/{followed}", op{ID: "isFollowing", Summary: "Whether a user follows another", Tags: tags, Headers: hdr,
		Responses: status(204, empty("Followed; 404 not_found when not."))})
	b.add("DELETE /apps/{app}/users/{user}/following/{followed}", op{ID: "unfollow", Summary: "Unfollow a user", Tags: tags, Headers: hdr, Responses: status(204, noContent)})
	b.add("GET /apps/{app}/users/{user}/identities", op{ID: "listFollowedIdentities", Summary: "List the identities a user follows", Tags: tags, Headers: hdr, Query: followPaging,
		Responses: status(200, ok("The identities; a followed user without one as a Basic Identity.", arrayOf(ref("FollowedIdentity")), "Layer-Count", "Link"))})

	b.add("PUT /apps/{app}/export_security", op{ID: "putExportSecurity", Summary: "Set the public key exports are encrypted with", Tags: tags, Headers: hdr,
		Body: ref("ExportSecurity"), Responses: status(200, ok("The key.", ref("ExportSecurity")))})
	b.add("GET /apps/{app}/export_security", op{ID: "getExportSecurity", Summary: "Get the exports' public key", Tags: tags, Headers: hdr, Responses: status(200, ok("The key.", ref("ExportSecurity")))})
	b.add("POST /apps/{app}/exports", op{ID: "requestExport", Summary: "Request an export of the app's data", Tags: tags, Headers: hdr,
		Body: anyObject, BodyOptional: true, Responses: status(202, ok("The export, pending.", ref("Export")))})
	b.add("GET /apps/{app}/exports", op{ID: "listExports", Summary: "List the app's exports", Tags: tags, Headers: hdr, Query: paging, Responses: status(200, page("A page of exports, newest first.", "Export"))})
	b.add("GET /apps/{app}/exports/{id}/status", op{ID: "exportStatus", Summary: "Get an export's status", Tags: tags, Headers: hdr,
		Responses: status(200, ok("Completed or failed.", ref("Export")), 202, ok("Pending or executing.", ref("Export")))})
	b.add("DELETE /apps/{app}/exports/{id}", op{ID: "deleteExport", Summary: "Delete an export", Tags: tags, Headers: hdr, Responses: status(204, noContent)})
	b.add("PUT /apps/{app}/export_schedule", op{ID: "putExportSchedule", Summary: "Schedule exports", Tags: tags, Headers: hdr,
		Body: ref("ExportScheduleInput"), Responses: status(200, ok("The schedule.", ref("ExportSchedule")))})
	b.add("GET /apps/{app}/export_schedule", op{ID: "getExportSchedule", Summary: "Get the export schedule", Tags: tags, Headers: hdr, Responses: status(200, ok("The schedule.", ref("ExportSchedule")))})
	b.add("GET /exports/{file}", op{ID: "downloadExport", Summary: "Download an export (signed URL)", Tags: []string{"Signed URLs"}, Auth: []M{},
		Query: signedQuery, Responses: status(200, M{"description": "The export's archive.", "content": M{"application/octet-stream": M{}, "application/gzip": M{}}})})
}
