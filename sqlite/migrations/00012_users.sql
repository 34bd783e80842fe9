-- +goose Up
-- What Herald keeps of a user besides their identity: suspension, and the
-- instant before which their sessions are void.
CREATE TABLE app_users (
    app_id              TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    suspended           INTEGER NOT NULL DEFAULT 0,
    sessions_revoked_at INTEGER,
    updated_at          INTEGER NOT NULL,
    PRIMARY KEY (app_id, user_id)
) WITHOUT ROWID;

-- Block lists: owner_id blocks user_id. The second index answers "who
-- blocks this sender", read with every message a user sends.
CREATE TABLE user_blocks (
    app_id     TEXT NOT NULL,
    owner_id   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    blocked_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, owner_id, user_id)
) WITHOUT ROWID;
CREATE INDEX user_blocks_blocked ON user_blocks (app_id, user_id, owner_id);

-- Follows: follower_id follows followed_id; listed latest first.
CREATE TABLE user_follows (
    app_id      TEXT NOT NULL,
    follower_id TEXT NOT NULL,
    followed_id TEXT NOT NULL,
    followed_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, follower_id, followed_id)
) WITHOUT ROWID;
CREATE INDEX user_follows_order ON user_follows (app_id, follower_id, followed_at, followed_id);

-- Per-app session settings; an app without a row has the default.
CREATE TABLE app_sessions (
    app_id              TEXT PRIMARY KEY,
    session_ttl_seconds INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE app_sessions;
DROP TABLE user_follows;
DROP TABLE user_blocks;
DROP TABLE app_users;
