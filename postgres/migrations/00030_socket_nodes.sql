-- +goose Up
-- When each node last said that its sockets are open: its rows of
-- socket_users count while this is recent. A heartbeat then writes one row
-- per node, not one per user with a socket open (thousands, every few
-- seconds), and finding a dead node's users reads that node's rows only.
CREATE TABLE socket_nodes (
    node    TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL
);
INSERT INTO socket_nodes (node, seen_at) SELECT node, MAX(seen_at) FROM socket_users GROUP BY node;

-- +goose Down
UPDATE socket_users SET seen_at = COALESCE((SELECT n.seen_at FROM socket_nodes n WHERE n.node = socket_users.node), seen_at);
DROP TABLE socket_nodes;
