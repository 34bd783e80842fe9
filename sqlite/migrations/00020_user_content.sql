-- +goose Up
-- Content a user declares before naming a conversation (the Client API's
-- POST /content, through the server API's proxy): it has no conversation
-- ('') until a message uses it, and belongs to that user meanwhile.
ALTER TABLE contents ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
CREATE INDEX contents_unbound ON contents (created_at) WHERE conversation_id = '';

-- +goose Down
DROP INDEX contents_unbound;
ALTER TABLE contents DROP COLUMN user_id;
