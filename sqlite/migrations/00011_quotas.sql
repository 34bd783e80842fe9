-- +goose Up
-- The bytes of each app's uploaded content, kept as a running total so that
-- checking the app's content quota costs the same however much it has.
ALTER TABLE apps ADD COLUMN content_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE apps SET content_bytes = COALESCE(
    (SELECT SUM(size) FROM contents WHERE contents.app_id = apps.id AND uploaded_at IS NOT NULL), 0);

-- Content declared and not uploaded yet, which the quota counts while its
-- upload URL is valid; an upload takes it out of this index.
CREATE INDEX contents_pending ON contents (app_id, created_at, size) WHERE uploaded_at IS NULL;

-- +goose Down
DROP INDEX contents_pending;
ALTER TABLE apps DROP COLUMN content_bytes;
