-- +goose Up
-- Messages accepted to be sent later (a send's schedule). What the message
-- will be, sender, parts and notification, is kept as JSON: it is only
-- ever read whole, when the message is sent.
CREATE TABLE scheduled_messages (
    id              TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    send_at         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    message         TEXT NOT NULL
);
CREATE INDEX scheduled_messages_due ON scheduled_messages (send_at);

-- +goose Down
DROP TABLE scheduled_messages;
