package openapi

// Callbell's /v1 (callbellapi): channels, contacts, channel messages,
// templates, agents, teams, the app's one Callbell-format webhook, and the
// connectors' public endpoints. A request's app is its token's. Objects
// are wrapped in a member named after them ({"channel": {...}}); listings
// carry meta {page, pages}.

const callbellTag = "Callbell /v1"

func callbellSchemas(b *builder) {
	s := b.schemas
	customStatus := closed(M{"id": str(""), "name": str(""), "emoji": str(""), "updatedAt": str("")})
	s["CBMeta"] = closed(M{"page": integer, "pages": integer})
	s["CBChannel"] = object(M{"uuid": str(""), "title": str(""), "type": str("whatsapp, telegram, ..."), "main": boolean,
		"discardedAt": orNull(str("")), "identifier": str(""), "createdAt": str("")}, "uuid", "title", "type", "main", "discardedAt")
	s["CBTeam"] = closed(M{"uuid": str(""), "name": str(""), "createdAt": str(""), "default": boolean, "members": integer})
	s["CBContact"] = object(M{"href": str(""), "conversationHref": str(""), "name": str(""), "tags": arrayOf(str("")), "uuid": str(""),
		"source": str(""), "avatarUrl": orNull(str("")), "createdAt": str(""), "phoneNumber": str(""), "assignedUser": orNull(str("")),
		"customFields": anyObject, "closedAt": orNull(str("")), "blockedAt": orNull(str("")), "funnelId": orNull(str("")),
		"team": orNull(ref("CBTeam")), "channel": orNull(ref("CBChannel")), "bsuid": str(""), "note": orNull(str("")),
		"closingReason": str(""), "customFieldsMetadata": anyObject}, "uuid", "name", "source", "createdAt")
	s["CBMessage"] = open(M{"uuid": str(""), "to": str(""), "from": str(""), "text": str(""), "status": str(""), "channel": str(""),
		"createdAt": str(""), "attachments": arrayOf(str("")), "contact": orNull(ref("CBContact")), "metadata": mapOf(str(""))})
	s["CBTemplate"] = open(M{"uuid": str(""), "title": str(""), "status": str("")}, "uuid")
	s["CBUser"] = object(M{"uuid": str(""), "email": str(""), "name": str(""), "available": boolean, "lastUpdatedAt": str(""),
		"userCustomStatus": customStatus, "role": str(""), "session": orNull(str("")),
		"createdAt": str(""), "updatedAt": str(""), "teams": arrayOf(ref("CBTeam"))}, "uuid", "email", "name", "available", "role")
	s["CBCustomStatus"] = closed(M{"id": str(""), "name": str(""), "emoji": str(""), "createdAt": str(""), "updatedAt": str("")})
	s["CBFunnel"] = closed(M{"uuid": str(""), "name": str(""), "emoji": str(""), "position": integer, "createdAt": str("")})
	s["CBCustomField"] = object(M{"name": str(""), "type": str(""), "options": arrayOf(str("")), "createdAt": str("")}, "name", "type", "createdAt")
	s["CBTeamMember"] = object(M{"email": str(""), "name": str(""), "available": boolean, "lastUpdatedAt": str(""), "userCustomStatus": customStatus},
		"email", "name", "available", "lastUpdatedAt")
	s["CBSubscription"] = object(M{"url": uri, "subscriptions": arrayOf(str("")), "createdAt": str(""), "enabled": boolean, "statusReason": str(""),
		"config": anyObject, "signingPublicKey": str(""), "rotation": object(M{"graceUntil": str(""), "previousSigningPublicKey": str("")}, "graceUntil")},
		"url", "subscriptions", "createdAt", "enabled")
	s["CBConnector"] = object(M{"channel_uuid": str(""), "provider": str(""), "api_url": uri, "phone_number_id": str(""), "webhook_url": uri,
		"created_at": str(""), "updated_at": str("")}, "channel_uuid", "provider", "api_url", "webhook_url", "created_at", "updated_at")
	s["CBStatus"] = closed(M{"status": str("What was done: \"contact was destroyed\", ...")})
}

func callbellRoutes(b *builder) {
	tags := []string{callbellTag}
	one := func(member, schema string) M { return closed(M{member: ref(schema)}) }
	many := func(member, schema string) M { return closed(M{member: arrayOf(ref(schema)), "meta": ref("CBMeta")}) }
	pageQ := query("page", "The page, from 1.", M{"type": "integer", "minimum": 1})
	destroyed := ok("Destroyed.", ref("CBStatus"))
	v := func(pattern, id, summary string, o op) {
		o.ID, o.Summary, o.Tags = id, summary, tags
		b.add(pattern, o)
	}
	v("POST /v1/channels", "cbCreateChannel", "Create a channel", op{Body: open(M{"type": str(""), "identifier": str(""), "title": str("")}),
		Responses: status(201, ok("Created.", one("channel", "CBChannel")))})
	v("GET /v1/channels", "cbListChannels", "List channels", op{Query: []M{pageQ, query("type", "Only channels of this type.", str("")),
		query("active", "true: not discarded; false: discarded.", boolean)}, Responses: status(200, ok("A page.", many("channels", "CBChannel")))})
	v("GET /v1/channels/{uuid}", "cbGetChannel", "Get a channel", op{Responses: status(200, ok("The channel.", one("channel", "CBChannel")))})
	v("PATCH /v1/channels/{uuid}", "cbPatchChannel", "Change a channel", op{Body: open(M{"title": str("")}), Responses: status(200, ok("The channel.", one("channel", "CBChannel")))})
	v("DELETE /v1/channels/{uuid}", "cbDiscardChannel", "Discard a channel", op{Responses: status(200, ok("The discarded channel.", one("channel", "CBChannel")))})
	v("POST /v1/channels/{uuid}/inbound", "cbReceiveMessage", "Record a message a contact sent to the channel", op{
		Body:      open(M{"from": str(""), "contact": anyObject, "content": anyObject, "external_id": str("")}),
		Responses: status(201, ok("Recorded.", one("message", "CBMessage")), 200, ok("Already recorded (same external_id).", one("message", "CBMessage")))})

	contactQ := []M{query("contact_shape", "object (default) or array: the contact as Callbell's examples show it.", strEnum("object", "array")),
		query("include_field_types", "Add customFieldsMetadata.", boolean)}
	contact := closed(M{"contact": M{"oneOf": []any{ref("CBContact"), arrayOf(ref("CBContact"))}}})
	v("POST /v1/contacts", "cbCreateContact", "Create a contact", op{Query: contactQ,
		Body:      open(M{"identifier": str(""), "source": str(""), "name": str(""), "tags": orNull(arrayOf(str(""))), "custom_fields": orNull(anyObject)}),
		Responses: status(201, ok("Created.", contact))})
	v("GET /v1/contacts", "cbListContacts", "List contacts", op{Query: []M{pageQ}, Responses: status(200, ok("A page.", many("contacts", "CBContact")))})
	v("GET /v1/contacts/{uuid}", "cbGetContact", "Get a contact", op{Query: contactQ, Responses: status(200, ok("The contact.", contact))})
	v("PATCH /v1/contacts/{uuid}", "cbPatchContact", "Change a contact", op{Query: contactQ,
		Body: open(M{"name": str(""), "tags": orNull(arrayOf(str(""))), "custom_fields": orNull(anyObject)}), Responses: status(200, ok("The contact.", contact))})
	v("DELETE /v1/contacts/{uuid}", "cbDeleteContact", "Delete a contact", op{Responses: status(200, destroyed)})
	v("POST /v1/contacts/{uuid}/conversation/close", "cbCloseConversation", "Close a contact's conversation", op{Query: contactQ,
		Body: open(M{"closing_reason": str("")}), BodyOptional: true, Responses: status(200, ok("The contact.", contact))})
	v("POST /v1/contacts/{uuid}/conversation/open", "cbOpenConversation", "Open a contact's conversation", op{Query: contactQ,
		Responses: status(200, ok("The contact.", contact))})
	v("GET /v1/contacts/{first}/{second}", "cbContactPath", "A contact by phone (/v1/contacts/phone/{number}) or BSUID (/v1/contacts/bsuid/{id}), a contact's messages (/v1/contacts/{uuid}/messages) or bot status (/v1/contacts/{uuid}/bot)", op{
		Query: append([]M{pageQ, query("status", "Messages: only those of this direction.", str(""))}, contactQ...),
		Responses: status(200, ok("By what the path names.", M{"oneOf": []any{contact,
			closed(M{"messages": arrayOf(open(M{"uuid": str(""), "text": str(""), "status": str(""), "channel": str(""), "from": str(""), "to": str(""),
				"createdAt": str(""), "attachments": arrayOf(str(""))}))}),
			closed(M{"bot": open(M{"status": str("")})})}}))})
	v("POST /v1/contacts/{uuid}/bot", "cbPostBot", "Start or stop the contact's bot", op{Body: open(M{"status": str("bot_start or bot_end")}, "status"),
		Responses: status(200, ok("The bot's status.", closed(M{"bot": open(M{"status": str("")})})))})
	v("POST /v1/contacts/{uuid}/conversation/note", "cbAddNote", "Add a note to the contact's conversation", op{Body: open(M{"text": str("")}, "text"),
		Responses: status(200, ok("Added.", closed(M{"success": boolean, "uuid": str("")})))})
	v("PUT /v1/contacts/{uuid}/conversation/update_funnel", "cbUpdateFunnel", "Move the contact to a funnel", op{Query: contactQ,
		Body: open(M{"funnel_id": orNull(str(""))}), Responses: status(200, ok("The contact.", contact))})
	v("GET /v1/funnels", "cbListFunnels", "List funnels", op{Responses: status(200, ok("The funnels.", closed(M{"funnels": arrayOf(ref("CBFunnel"))})))})
	v("POST /v1/funnels", "cbCreateFunnel", "Create a funnel", op{Body: open(M{"name": str(""), "emoji": str(""), "position": integer}, "name"),
		Responses: status(201, ok("Created.", one("funnel", "CBFunnel")))})
	v("DELETE /v1/funnels/{uuid}", "cbDeleteFunnel", "Delete a funnel", op{Responses: status(200, destroyed)})
	v("GET /v1/custom_fields", "cbListCustomFields", "List the contacts' custom fields", op{Responses: status(200, ok("The fields.", closed(M{"custom_fields": arrayOf(ref("CBCustomField"))})))})
	v("POST /v1/custom_fields", "cbPutCustomField", "Create or change a custom field", op{Body: open(M{"name": str(""), "type": str(""), "options": arrayOf(str(""))}, "name"),
		Responses: status(200, ok("The field.", one("custom_field", "CBCustomField")))})
	v("DELETE /v1/custom_fields/{name}", "cbDeleteCustomField", "Delete a custom field", op{Responses: status(200, destroyed)})

	msg := one("message", "CBMessage")
	v("POST /v1/messages/send", "cbSendMessage", "Send a message to a contact on a channel", op{
		Body: open(M{"to": str(""), "from": str(""), "type": str(""), "content": anyObject, "channel_uuid": str(""), "template_uuid": str(""),
			"template_values": arrayOf(str("")), "metadata": mapOf(str(""))}),
		Responses: status(201, ok("Queued.", msg), 200, ok("Already sent with this idempotency key.", msg))})
	v("GET /v1/messages/status/{uuid}", "cbMessageStatus", "Get a message's status", op{Responses: status(200, ok("The message.", msg))})
	v("POST /v1/messages/{uuid}/status", "cbPostMessageStatus", "Record a delivery status of a message", op{
		Body: open(M{"status": str(""), "payload": anyObject}, "status"), Responses: status(200, ok("The message.", msg))})
	v("DELETE /v1/messages/{uuid}", "cbDeleteMessage", "Delete a message", op{Responses: status(204, empty("Deleted."))})
	v("DELETE /v1/messages", "cbDeleteMessageByBody", "Delete the message the body names", op{Body: open(M{"uuid": str("")}, "uuid"), Responses: status(204, empty("Deleted."))})

	tpl := one("template", "CBTemplate")
	v("GET /v1/templates", "cbListTemplates", "List message templates", op{Query: []M{pageQ}, Responses: status(200, ok("A page.", many("templates", "CBTemplate")))})
	v("GET /v1/templates/{uuid}", "cbGetTemplate", "Get a template", op{Responses: status(200, ok("The template.", tpl))})
	v("PATCH /v1/templates/{uuid}", "cbPatchTemplate", "Change a template", op{Body: open(M{"title": str(""), "status": str("")}), Responses: status(200, ok("The template.", tpl))})
	v("DELETE /v1/templates/{uuid}", "cbDeleteTemplate", "Delete a template", op{Responses: status(200, destroyed)})
	v("POST /v1/templates", "cbCreateTemplate", "Create a template", op{
		Body:      open(M{"channel_uuid": str(""), "name": str(""), "language": str(""), "text": str(""), "category": str("")}),
		Responses: status(201, ok("Created.", tpl), 200, ok("The same template existed.", tpl))})

	sub := ref("CBSubscription")
	v("POST /v1/webhooks/subscribe", "cbSubscribe", "Subscribe the app's Callbell webhook", op{
		Body:      open(M{"url": uri, "subscriptions": arrayOf(str("message_created, contact_created, ...")), "config": anyObject}, "url"),
		Responses: status(201, ok("Subscribed: the secret is shown once.", closed(M{"webhook": sub, "secret": str("")})), 200, ok("Changed.", open(M{"webhook": sub})))})
	v("GET /v1/webhooks", "cbGetSubscription", "Get the app's Callbell webhook", op{Responses: status(200, ok("The webhook.", closed(M{"webhook": sub})))})
	v("DELETE /v1/webhooks/unsubscribe", "cbUnsubscribe", "Remove the app's Callbell webhook", op{Responses: status(200, destroyed)})
	v("GET /v1/webhooks/events", "cbWebhookEvents", "List the webhook's recent events and deliveries", op{Query: []M{pageQ},
		Responses: status(200, ok("A page.", closed(M{"webhook_events": arrayOf(anyObject), "meta": ref("CBMeta")})))})
	v("POST /v1/webhooks/rotate_secret", "cbRotateSecret", "Rotate the webhook's secret", op{Body: open(M{"grace_period_seconds": number}), BodyOptional: true,
		Responses: status(200, ok("The new secret.", closed(M{"webhook": sub, "secret": str("")})))})

	v("GET /v1/auth/me", "cbAuthMe", "Who the token is", op{Responses: status(200, ok("The account.", open(M{"status": str("")})))})
	v("GET /v1/plan", "cbPlan", "The account's plan", op{Responses: status(200, ok("The plan.", open(M{"plan": str("")})))})
	user := one("user", "CBUser")
	availability := query("status", "Only agents who are available, or away.", strEnum("available", "away"))
	v("POST /v1/users", "cbCreateUser", "Create an agent", op{Body: open(M{"email": str(""), "name": str(""), "role": str(""), "available": boolean}, "email"),
		Responses: status(201, ok("Created.", user))})
	v("GET /v1/users", "cbListUsers", "List agents", op{Query: []M{pageQ, availability}, Responses: status(200, ok("A page.", many("users", "CBUser")))})
	v("GET /v1/users/{uuid}", "cbGetUser", "Get an agent", op{Responses: status(200, ok("The agent.", user))})
	v("PATCH /v1/users/{uuid}", "cbPatchUser", "Change an agent", op{Body: open(M{"name": str(""), "role": str("")}), Responses: status(200, ok("The agent.", user))})
	v("DELETE /v1/users/{uuid}", "cbDeleteUser", "Delete an agent", op{Responses: status(200, destroyed)})
	v("POST /v1/users/{uuid}/session", "cbUserSession", "Record an agent's log-in or log-out", op{Body: open(M{"action": str("user_logged_in or user_logged_out")}, "action"),
		Responses: status(200, ok("The agent.", user))})
	v("PUT /v1/users/{uuid}/status", "cbPutUserStatus", "Set an agent's availability and custom status", op{
		Body: open(M{"available": boolean, "custom_status_uuid": orNull(str(""))}), Responses: status(200, ok("The status.", closed(M{"user_status": anyObject})))})
	v("DELETE /v1/users/{uuid}/status", "cbDeleteUserStatus", "Clear an agent's custom status", op{Responses: status(204, empty("Cleared."))})
	team := one("team", "CBTeam")
	v("GET /v1/teams", "cbListTeams", "List teams", op{Responses: status(200, ok("The teams.", many("teams", "CBTeam")))})
	v("POST /v1/teams", "cbCreateTeam", "Create a team", op{Body: open(M{"name": str(""), "default": boolean}, "name"), Responses: status(201, ok("Created.", team))})
	v("GET /v1/teams/{uuid}", "cbGetTeam", "Get a team", op{Responses: status(200, ok("The team.", team))})
	v("PATCH /v1/teams/{uuid}", "cbPatchTeam", "Change a team", op{Body: open(M{"name": str(""), "default": boolean}), Responses: status(200, ok("The team.", team))})
	v("DELETE /v1/teams/{uuid}", "cbDeleteTeam", "Delete a team", op{Responses: status(200, destroyed)})
	v("GET /v1/teams/{uuid}/members", "cbTeamMembers", "List a team's members", op{Query: []M{pageQ, availability}, Responses: status(200, ok("A page.", many("users", "CBTeamMember")))})
	v("PUT /v1/teams/{uuid}/members/{user}", "cbAddTeamMember", "Add an agent to a team", op{Responses: status(200, ok("The team.", team))})
	v("DELETE /v1/teams/{uuid}/members/{user}", "cbRemoveTeamMember", "Remove an agent from a team", op{Responses: status(200, ok("The team.", team))})
	cs := closed(M{"customStatus": ref("CBCustomStatus")})
	v("GET /v1/custom_statuses", "cbListCustomStatuses", "List custom statuses", op{Responses: status(200, ok("The statuses.", many("customStatuses", "CBCustomStatus")))})
	v("POST /v1/custom_statuses", "cbCreateCustomStatus", "Create a custom status", op{Body: open(M{"name": str(""), "emoji": str("")}, "name"), Responses: status(201, ok("Created.", cs))})
	v("GET /v1/custom_statuses/{id}", "cbGetCustomStatus", "Get a custom status", op{Responses: status(200, ok("The status.", cs))})
	v("PUT /v1/custom_statuses/{id}", "cbPutCustomStatus", "Change a custom status", op{Body: open(M{"name": str(""), "emoji": str("")}), Responses: status(200, ok("The status.", cs))})
	v("DELETE /v1/custom_statuses/{id}", "cbDeleteCustomStatus", "Delete a custom status", op{Responses: status(200, destroyed)})

	conn := closed(M{"connector": ref("CBConnector")})
	v("PUT /v1/channels/{uuid}/connector", "cbPutConnector", "Connect a channel to its provider (WhatsApp Cloud API, Telegram)", op{
		Body: open(M{"provider": str("")}, "provider"), Responses: status(200, ok("The connector, without its secrets.", conn))})
	v("GET /v1/channels/{uuid}/connector", "cbGetConnector", "Get a channel's connector", op{Responses: status(200, ok("The connector.", conn))})
	v("DELETE /v1/channels/{uuid}/connector", "cbDeleteConnector", "Disconnect a channel", op{Responses: status(204, empty("Disconnected."))})
	public := []M{}
	v("GET /v1/connectors/whatsapp/{uuid}", "cbVerifyWhatsApp", "Meta's webhook verification (hub.challenge)", op{Auth: public,
		Query:     []M{query("hub.mode", "subscribe", str("")), query("hub.verify_token", "The connector's verify token.", str("")), query("hub.challenge", "Echoed back.", str(""))},
		Responses: status(200, M{"description": "The challenge.", "content": M{"text/plain": M{"schema": str("")}}})})
	v("POST /v1/connectors/whatsapp/{uuid}", "cbWhatsAppNotification", "WhatsApp Cloud API notifications (signed X-Hub-Signature-256)", op{Auth: public,
		Headers: []M{header("X-Hub-Signature-256", "sha256=<hex HMAC of the body keyed by the app secret>", str(""))},
		Body:    anyObject, Responses: status(200, empty("Taken."))})
	v("POST /v1/connectors/telegram/{uuid}", "cbTelegramUpdate", "Telegram bot updates", op{Auth: public,
		Headers: []M{header("X-Telegram-Bot-Api-Secret-Token", "The connector's secret token.", str(""))},
		Body:    anyObject, Responses: status(200, empty("Taken."))})
}
