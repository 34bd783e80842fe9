-- +goose Up
-- A participant who deletes a conversation from their devices (Layer's
-- Client API, mode=my_devices) keeps their row, out of their listings
-- (listed = 0) until a message is sent in the conversation again.
ALTER TABLE conversation_inbox ADD COLUMN listed INTEGER NOT NULL DEFAULT 1;

-- The devices each user receives push notifications on, one token each.
CREATE TABLE push_tokens (
    app_id         TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    device_id      TEXT NOT NULL,
    type           TEXT NOT NULL,
    token          TEXT NOT NULL,
    apns_bundle_id TEXT NOT NULL DEFAULT '',
    ios_version    TEXT NOT NULL DEFAULT '',
    gcm_sender_id  TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (app_id, user_id, device_id)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE push_tokens;
ALTER TABLE conversation_inbox DROP COLUMN listed;
