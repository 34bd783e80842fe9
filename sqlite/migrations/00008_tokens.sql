-- +goose Up
-- Tokens get an id (to list and revoke them by), a name, the first
-- characters of the secret (so that a person recognises a token without
-- seeing it whole) and the time they were last used. The secret itself is
-- still kept as its SHA-256 only: a token is 256 random bits, so an unkeyed
-- hash already defeats both guessing and reversing it, and a lookup by the
-- hash of the presented token leaks nothing through timing.
CREATE TABLE app_tokens_new (
    hash         TEXT PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    app_id       TEXT NOT NULL REFERENCES apps (id),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
) WITHOUT ROWID;
-- Existing tokens get a random (version 4) UUID; their prefix is unknown.
INSERT INTO app_tokens_new (hash, id, app_id, name, prefix, created_at)
    SELECT hash,
        lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
            substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
        app_id, 'default', '', created_at
    FROM app_tokens;
DROP TABLE app_tokens;
ALTER TABLE app_tokens_new RENAME TO app_tokens;
CREATE INDEX app_tokens_app ON app_tokens (app_id, created_at);

-- The token revision moves whenever a token stops being what it was: nodes
-- (and other processes on this file) that cache validated tokens read it
-- every tenth of a second and forget their cache when it moved. Triggers
-- move it in the very transaction of the change, so that a token deleted by
-- hand (or by any other program) is refused as surely as one revoked
-- through Herald.
INSERT INTO settings (key, value) VALUES ('token_revision', '0') ON CONFLICT (key) DO NOTHING;
-- +goose StatementBegin
CREATE TRIGGER app_tokens_deleted AFTER DELETE ON app_tokens
BEGIN
    INSERT INTO settings (key, value) VALUES ('token_revision', '1')
        ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER app_tokens_changed AFTER UPDATE OF hash, app_id ON app_tokens
BEGIN
    INSERT INTO settings (key, value) VALUES ('token_revision', '1')
        ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER app_tokens_changed;
DROP TRIGGER app_tokens_deleted;
DELETE FROM settings WHERE key = 'token_revision';
CREATE TABLE app_tokens_old (
    hash       TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL REFERENCES apps (id),
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO app_tokens_old (hash, app_id, created_at) SELECT hash, app_id, created_at FROM app_tokens;
DROP TABLE app_tokens;
ALTER TABLE app_tokens_old RENAME TO app_tokens;
