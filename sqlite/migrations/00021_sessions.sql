-- +goose Up
-- Layer's Client API: an app's identity provider and its public keys, the
-- nonces devices sign into identity tokens, and the sessions those tokens
-- open. Session tokens are kept as their SHA-256 only.
CREATE TABLE identity_providers (
	app_id     TEXT PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	created_at BIGINT NOT NULL
);

CREATE TABLE identity_keys (
	id          TEXT PRIMARY KEY,
	app_id      TEXT NOT NULL,
	provider_id TEXT NOT NULL,
	public_key  TEXT NOT NULL,
	created_at  BIGINT NOT NULL
);
CREATE INDEX identity_keys_app ON identity_keys (app_id, created_at);

CREATE TABLE nonces (
	nonce      TEXT PRIMARY KEY,
	expires_at BIGINT NOT NULL
);
CREATE INDEX nonces_expiry ON nonces (expires_at);

CREATE TABLE sessions (
	hash       TEXT PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	app_id     TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (app_id, user_id);

-- +goose Down
DROP TABLE sessions;
DROP TABLE nonces;
DROP TABLE identity_keys;
DROP TABLE identity_providers;
