-- +goose Up
-- When a channel was discarded: it keeps its contacts and messages but
-- sends and receives nothing more.
ALTER TABLE channels ADD COLUMN discarded_at INTEGER;

-- The CRM fields of a contact (Callbell's contact object).
ALTER TABLE contacts ADD COLUMN bsuid TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN note TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN blocked_at INTEGER;
ALTER TABLE contacts ADD COLUMN funnel_uuid TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN bot_status TEXT NOT NULL DEFAULT '';

-- A contact known only by its BSUID (a WhatsApp username-privacy user) has
-- no address: addresses are unique where there is one, and so are BSUIDs.
DROP INDEX contacts_address;
CREATE UNIQUE INDEX contacts_address ON contacts (app_id, channel_uuid, phone_number) WHERE phone_number != '';
CREATE UNIQUE INDEX contacts_bsuid ON contacts (app_id, channel_uuid, bsuid) WHERE bsuid != '';
CREATE INDEX contacts_funnel ON contacts (app_id, funnel_uuid) WHERE funnel_uuid != '';

-- The stages of an app's sales funnel.
CREATE TABLE funnels (
    uuid       TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL,
    name       TEXT NOT NULL,
    emoji      TEXT NOT NULL DEFAULT '',
    position   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX funnels_app ON funnels (app_id, position, created_at);

-- The custom contact fields an app defines, with their type and options
-- (a JSON array of strings, '[]' when there are none).
CREATE TABLE contact_fields (
    app_id     TEXT NOT NULL,
    name       TEXT NOT NULL,
    type       TEXT NOT NULL,
    options    TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, name)
);

-- +goose Down
DROP TABLE contact_fields;
DROP TABLE funnels;
DROP INDEX contacts_funnel;
DROP INDEX contacts_bsuid;
DROP INDEX contacts_address;
CREATE UNIQUE INDEX contacts_address ON contacts (app_id, channel_uuid, phone_number);
ALTER TABLE contacts DROP COLUMN bot_status;
ALTER TABLE contacts DROP COLUMN funnel_uuid;
ALTER TABLE contacts DROP COLUMN blocked_at;
ALTER TABLE contacts DROP COLUMN note;
ALTER TABLE contacts DROP COLUMN bsuid;
ALTER TABLE channels DROP COLUMN discarded_at;
