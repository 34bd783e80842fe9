-- +goose Up
-- The same schema as SQLite's, version for version. Instants are unix
-- microseconds (BIGINT); JSON is stored as TEXT so that it round-trips byte
-- for byte.
CREATE TABLE apps (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE app_tokens (
    hash       TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL REFERENCES apps (id),
    created_at BIGINT NOT NULL
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE identities (
    app_id        TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    avatar_url    TEXT NOT NULL DEFAULT '',
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    phone_number  TEXT NOT NULL DEFAULT '',
    email_address TEXT NOT NULL DEFAULT '',
    metadata      TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (app_id, user_id)
);

CREATE TABLE conversations (
    id            TEXT PRIMARY KEY,
    app_id        TEXT NOT NULL,
    participants  TEXT NOT NULL,
    distinct_key  TEXT,
    metadata      TEXT,
    created_at    BIGINT NOT NULL,
    last_position BIGINT NOT NULL DEFAULT 0,
    deleted_at    BIGINT
);
CREATE INDEX conversations_app ON conversations (app_id, id);
-- At most one live distinct conversation per set of participants.
CREATE UNIQUE INDEX conversations_distinct ON conversations (app_id, distinct_key)
    WHERE distinct_key IS NOT NULL AND deleted_at IS NULL;

CREATE TABLE conversation_participants (
    app_id          TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    PRIMARY KEY (app_id, user_id, conversation_id)
);
CREATE INDEX conversation_participants_conv ON conversation_participants (conversation_id);

CREATE TABLE messages (
    id               TEXT PRIMARY KEY,
    app_id           TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    position         BIGINT NOT NULL,
    sender_user_id   TEXT NOT NULL DEFAULT '',
    sender_name      TEXT NOT NULL DEFAULT '',
    parts            TEXT NOT NULL,
    notification     TEXT,
    sent_at          BIGINT NOT NULL,
    recipient_status TEXT NOT NULL,
    deleted_at       BIGINT
);
CREATE UNIQUE INDEX messages_position ON messages (conversation_id, position);

CREATE TABLE message_hidden (
    message_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    hidden_at  BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id)
);

-- Deduplication keys (If-None-Match) of message creation requests.
CREATE TABLE request_keys (
    app_id     TEXT NOT NULL,
    key        TEXT NOT NULL,
    message_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, key)
);

CREATE TABLE announcements (
    id           TEXT PRIMARY KEY,
    app_id       TEXT NOT NULL,
    sender_name  TEXT NOT NULL,
    parts        TEXT NOT NULL,
    notification TEXT,
    sent_at      BIGINT NOT NULL
);

CREATE TABLE announcement_recipients (
    app_id          TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    announcement_id TEXT NOT NULL,
    status          TEXT NOT NULL,
    PRIMARY KEY (app_id, user_id, announcement_id)
);
CREATE INDEX announcement_recipients_ann ON announcement_recipients (announcement_id);

CREATE TABLE contents (
    id              TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    mime_type       TEXT NOT NULL,
    size            BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    uploaded_at     BIGINT,
    -- The blob of the upload that won; set with uploaded_at.
    blob_key        TEXT
);

-- The event log: one row per change, written in the change's transaction.
-- Events are inserted at commit under a lock, so that seq is commit order:
-- whoever reads seq n has every event before it.
CREATE TABLE events (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    app_id     TEXT NOT NULL,
    type       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    actor      TEXT,
    data       TEXT NOT NULL
);
CREATE INDEX events_app ON events (app_id, seq);

-- +goose Down
DROP TABLE events;
DROP TABLE contents;
DROP TABLE announcement_recipients;
DROP TABLE announcements;
DROP TABLE request_keys;
DROP TABLE message_hidden;
DROP TABLE messages;
DROP TABLE conversation_participants;
DROP TABLE conversations;
DROP TABLE identities;
DROP TABLE settings;
DROP TABLE app_tokens;
DROP TABLE apps;
