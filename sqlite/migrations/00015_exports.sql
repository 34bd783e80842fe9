-- +goose Up
-- Data exports (Layer's export_security, exports and export_schedule).
-- Numbered past the migrations that other work has reserved.
CREATE TABLE export_keys (
    app_id     TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE exports (
    id                TEXT PRIMARY KEY,
    app_id            TEXT NOT NULL,
    type              TEXT NOT NULL,
    status            TEXT NOT NULL,
    public_key        TEXT NOT NULL,
    events            TEXT,
    since_at          INTEGER,
    until_at          INTEGER,
    created_at        INTEGER NOT NULL,
    started_at        INTEGER,
    completed_at      INTEGER,
    expires_at        INTEGER,
    blob_key          TEXT,
    size              INTEGER NOT NULL DEFAULT 0,
    encrypted_aes_key TEXT NOT NULL DEFAULT '',
    aes_iv            TEXT NOT NULL DEFAULT '',
    error             TEXT NOT NULL DEFAULT '',
    lease_owner       TEXT,
    lease_until       INTEGER
);
-- An app's exports, newest first (ids are UUIDv7).
CREATE INDEX exports_app ON exports (app_id, id);
-- The exports a runner may claim, oldest first.
CREATE INDEX exports_unfinished ON exports (id) WHERE status IN ('pending', 'executing');
-- The completed exports to prune, by expiry.
CREATE INDEX exports_expiry ON exports (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE export_schedules (
    app_id         TEXT PRIMARY KEY,
    export_interval TEXT NOT NULL,
    events         TEXT NOT NULL,
    next_export_at INTEGER,
    last_export_at INTEGER,
    last_export_id TEXT,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX export_schedules_due ON export_schedules (next_export_at) WHERE next_export_at IS NOT NULL;

-- +goose Down
DROP TABLE export_schedules;
DROP TABLE exports;
DROP TABLE export_keys;
