-- +goose Up
-- The blobs whose content is gone, until they are deleted from the blob
-- store. Deleting a conversation deletes its content's rows and lists their
-- blobs here, in one transaction; the blobs are deleted after the commit,
-- and a periodic sweep deletes those a failure or a crash left listed.
-- Numbered as PostgreSQL's, whose schema has a migration 8 of its own.
CREATE TABLE blob_deletions (
    blob_key  TEXT PRIMARY KEY,
    queued_at INTEGER NOT NULL
);
-- A conversation's content is found when the conversation is deleted.
CREATE INDEX contents_conversation ON contents (conversation_id);
-- Content of conversations deleted before this version goes the same way.
INSERT INTO blob_deletions (blob_key, queued_at)
    SELECT c.blob_key, v.deleted_at FROM contents c JOIN conversations v ON v.id = c.conversation_id
    WHERE v.deleted_at IS NOT NULL AND c.blob_key IS NOT NULL;
DELETE FROM contents WHERE conversation_id IN (SELECT id FROM conversations WHERE deleted_at IS NOT NULL);

-- +goose Down
DROP INDEX contents_conversation;
DROP TABLE blob_deletions;
