-- +goose Up
-- Channels: the ways an app reaches its customers.
CREATE TABLE channels (
    uuid       TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL,
    type       TEXT NOT NULL,
    identifier TEXT NOT NULL DEFAULT '',
    title      TEXT NOT NULL DEFAULT '',
    main       INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX channels_app ON channels (app_id, created_at);

-- Contacts: the customers reached on a channel, each with its conversation.
CREATE TABLE contacts (
    uuid            TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL,
    channel_uuid    TEXT NOT NULL,
    source          TEXT NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    -- The contact's address on the channel (phone number, handle, email).
    phone_number    TEXT NOT NULL,
    avatar_url      TEXT NOT NULL DEFAULT '',
    -- A JSON array of strings, '[]' when there is none.
    tags            TEXT NOT NULL DEFAULT '[]',
    -- A JSON object, NULL when there is none.
    custom_fields   TEXT,
    assigned_user   TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    conversation_id TEXT NOT NULL DEFAULT '',
    opened_at       BIGINT NOT NULL,
    closed_at       BIGINT,
    closing_reason  TEXT NOT NULL DEFAULT ''
);
-- One contact per address and channel.
CREATE UNIQUE INDEX contacts_address ON contacts (app_id, channel_uuid, phone_number);
-- The contacts of an app, newest first.
CREATE INDEX contacts_app ON contacts (app_id, created_at, uuid);

-- The contact whose conversation it is, '' for other conversations: the
-- message path learns it from the row it reads anyway.
ALTER TABLE conversations ADD COLUMN contact_uuid TEXT NOT NULL DEFAULT '';

-- The channel side of the messages of a contact's conversation: a JSON
-- herald.MessageChannel, NULL for other messages.
ALTER TABLE messages ADD COLUMN channel TEXT;

-- The receiver's health checks (Callbell's connection check).
ALTER TABLE webhooks ADD COLUMN health_checked_at BIGINT;
ALTER TABLE webhooks ADD COLUMN health_failing_since BIGINT;

-- +goose Down
ALTER TABLE webhooks DROP COLUMN health_failing_since;
ALTER TABLE webhooks DROP COLUMN health_checked_at;
ALTER TABLE messages DROP COLUMN channel;
ALTER TABLE conversations DROP COLUMN contact_uuid;
DROP TABLE contacts;
DROP TABLE channels;
