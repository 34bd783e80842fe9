-- +goose Up
-- WhatsApp message templates, per channel (herald.Template).
CREATE TABLE templates (
    uuid          TEXT PRIMARY KEY,
    app_id        TEXT NOT NULL,
    channel_uuid  TEXT NOT NULL,
    -- The template's name and language on the provider.
    name          TEXT NOT NULL,
    language      TEXT NOT NULL,
    title         TEXT NOT NULL DEFAULT '',
    text          TEXT NOT NULL,
    template_type TEXT NOT NULL,
    category      TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
-- WhatsApp knows a template of a business by its name and language.
CREATE UNIQUE INDEX templates_name ON templates (app_id, channel_uuid, name, language);
-- The templates of an app, oldest first.
CREATE INDEX templates_app ON templates (app_id, created_at, uuid);

-- When the contact last wrote to the business: WhatsApp's 24-hour window
-- is read from here on every free-form send. Contacts who wrote before
-- this column existed get their last received message's time.
ALTER TABLE contacts ADD COLUMN last_inbound_at INTEGER;
UPDATE contacts SET last_inbound_at = (SELECT MAX(m.sent_at) FROM messages m
    WHERE m.conversation_id = contacts.conversation_id AND m.sender_user_id = contacts.uuid)
    WHERE conversation_id <> '';

-- +goose Down
ALTER TABLE contacts DROP COLUMN last_inbound_at;
DROP TABLE templates;
