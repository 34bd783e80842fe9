-- +goose Up
-- The presence each user last set over the Client API's WebSocket, and
-- when they were last seen (herald.Presence).
CREATE TABLE presence (
    app_id       TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    status       TEXT NOT NULL,
    online       INTEGER NOT NULL DEFAULT 0,
    last_seen_at INTEGER,
    PRIMARY KEY (app_id, user_id)
) WITHOUT ROWID;

-- The users each node has sockets of, as of the node's last word
-- (seen_at): what a node left when it died is forgotten once it is
-- silent long enough.
CREATE TABLE socket_users (
    node    TEXT NOT NULL,
    app_id  TEXT NOT NULL,
    user_id TEXT NOT NULL,
    sockets INTEGER NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (node, app_id, user_id)
) WITHOUT ROWID;
CREATE INDEX socket_users_user ON socket_users (app_id, user_id);

-- +goose Down
DROP TABLE socket_users;
DROP TABLE presence;
