-- +goose Up
-- How each app's push notifications reach devices: one provider per kind
-- (apns, fcm, webhook), its settings as JSON and its secret sealed.
CREATE TABLE push_providers (
    app_id     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    settings   TEXT NOT NULL,
    secret     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, kind)
) WITHOUT ROWID;

-- The last event turned into push jobs. Pushes start with the events
-- logged after this migration: the log's past is not pushed.
CREATE TABLE push_cursor (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO push_cursor (id, seq) SELECT 1, COALESCE(MAX(seq), 0) FROM events;

-- One notification to one recipient through one provider (one device for
-- apns and fcm), until it is sent; failed ones are kept.
CREATE TABLE push_jobs (
    id              TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    event_seq       INTEGER NOT NULL,
    user_id         TEXT NOT NULL,
    provider        TEXT NOT NULL,
    device_id       TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT NOT NULL,
    lease_until     INTEGER NOT NULL,
    last_error      TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX push_jobs_due ON push_jobs (status, next_attempt_at);
CREATE INDEX push_jobs_app ON push_jobs (app_id, status, created_at);

-- +goose Down
DROP TABLE push_jobs;
DROP TABLE push_cursor;
DROP TABLE push_providers;
