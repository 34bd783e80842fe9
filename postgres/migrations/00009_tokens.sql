-- +goose Up
-- Tokens get an id (to list and revoke them by), a name, the first
-- characters of the secret (so that a person recognises a token without
-- seeing it whole) and the time they were last used. The secret itself is
-- still kept as its SHA-256 only: a token is 256 random bits, so an unkeyed
-- hash already defeats both guessing and reversing it, and a lookup by the
-- hash of the presented token leaks nothing through timing.
ALTER TABLE app_tokens ADD COLUMN id TEXT, ADD COLUMN name TEXT NOT NULL DEFAULT 'default',
    ADD COLUMN prefix TEXT NOT NULL DEFAULT '', ADD COLUMN last_used_at BIGINT;
-- Existing tokens get a random (version 4) UUID, without pgcrypto (which
-- PostgreSQL 12 needs for gen_random_uuid); their prefix is unknown.
UPDATE app_tokens SET id = (
    SELECT overlay(overlay(h PLACING '4' FROM 13) PLACING substr('89ab', 1 + floor(random() * 4)::int, 1) FROM 17)::uuid::text
    FROM (SELECT md5(random()::text || clock_timestamp()::text || app_tokens.hash) AS h) AS r);
ALTER TABLE app_tokens ALTER COLUMN id SET NOT NULL, ALTER COLUMN name DROP DEFAULT, ALTER COLUMN prefix DROP DEFAULT;
CREATE UNIQUE INDEX app_tokens_id ON app_tokens (id);
CREATE INDEX app_tokens_app ON app_tokens (app_id, created_at);

-- The token revision moves whenever a token stops being what it was: nodes
-- (and herald commands run beside them) that cache validated tokens read it
-- every tenth of a second and forget their cache when it moved. Triggers
-- move it in the very transaction of the change, so that a token deleted by
-- hand (or by any other program) is refused as surely as one revoked
-- through Herald. The function names the settings table of its own schema:
-- a session whose search_path leads elsewhere may delete tokens too.
INSERT INTO settings (key, value) VALUES ('token_revision', '0') ON CONFLICT (key) DO NOTHING;
-- +goose StatementBegin
CREATE FUNCTION herald_token_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO %I.settings (key, value) VALUES (''token_revision'', ''1'')
        ON CONFLICT (key) DO UPDATE SET value = (settings.value::bigint + 1)::text', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER app_tokens_changed AFTER DELETE OR UPDATE OF hash, app_id ON app_tokens
    FOR EACH ROW EXECUTE FUNCTION herald_token_revision();
CREATE TRIGGER app_tokens_truncated AFTER TRUNCATE ON app_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION herald_token_revision();

-- +goose Down
DROP TRIGGER app_tokens_truncated ON app_tokens;
DROP TRIGGER app_tokens_changed ON app_tokens;
DROP FUNCTION herald_token_revision();
DELETE FROM settings WHERE key = 'token_revision';
DROP INDEX app_tokens_app;
DROP INDEX app_tokens_id;
ALTER TABLE app_tokens DROP COLUMN last_used_at, DROP COLUMN prefix, DROP COLUMN name, DROP COLUMN id;
