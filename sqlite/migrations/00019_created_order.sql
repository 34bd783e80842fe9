-- +goose Up
-- Listings go newest first by creation time, not by id: an object created
-- with a deduplication key (If-None-Match) takes the key, a UUID the client
-- chose, as its id, as on Layer, and such ids say nothing of time.
CREATE INDEX conversations_app_created ON conversations (app_id, created_at, id) WHERE deleted_at IS NULL;

ALTER TABLE conversation_inbox ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
UPDATE conversation_inbox SET created_at = (SELECT c.created_at FROM conversations c WHERE c.id = conversation_inbox.conversation_id);
CREATE INDEX conversation_inbox_created ON conversation_inbox (app_id, user_id, created_at, conversation_id)
    WHERE member = 1;

-- Server API 2.0 sends announcements from an identity (sender_id), where
-- 1.x sent them from a name.
ALTER TABLE announcements ADD COLUMN sender_user_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE announcements DROP COLUMN sender_user_id;
DROP INDEX conversation_inbox_created;
ALTER TABLE conversation_inbox DROP COLUMN created_at;
DROP INDEX conversations_app_created;
