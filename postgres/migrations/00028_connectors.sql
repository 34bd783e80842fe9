-- +goose Up
-- Channel connectors: how a channel's messages reach WhatsApp's Cloud API
-- or Telegram's Bot API; settings as JSON, secrets sealed.
CREATE TABLE connectors (
    channel_uuid TEXT PRIMARY KEY,
    app_id       TEXT NOT NULL,
    provider     TEXT NOT NULL,
    settings     TEXT NOT NULL,
    secret       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX connectors_app ON connectors (app_id);

-- The last event turned into connector jobs; connectors send the messages
-- enqueued after this migration.
CREATE TABLE connector_cursor (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO connector_cursor (id, seq) SELECT 1, COALESCE(MAX(seq), 0) FROM events;

-- One outgoing message on its way to its channel's provider, until it is
-- sent; failed ones are kept.
CREATE TABLE connector_jobs (
    id              TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL,
    channel_uuid    TEXT NOT NULL,
    contact_uuid    TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    event_seq       BIGINT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_owner     TEXT NOT NULL,
    lease_until     BIGINT NOT NULL,
    last_error      TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX connector_jobs_due ON connector_jobs (status, next_attempt_at);
CREATE INDEX connector_jobs_contact ON connector_jobs (app_id, contact_uuid, status, event_seq);

-- The providers' ids of channel messages, for their status notifications.
CREATE TABLE connector_message_ids (
    app_id       TEXT NOT NULL,
    channel_uuid TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    PRIMARY KEY (app_id, channel_uuid, external_id)
);

-- +goose Down
DROP TABLE connector_message_ids;
DROP TABLE connector_jobs;
DROP TABLE connector_cursor;
DROP TABLE connectors;
