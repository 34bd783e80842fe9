-- +goose Up
-- The browser origin that may upload (and download) content across origins,
-- from Layer's Upload-Origin header.
ALTER TABLE contents ADD COLUMN upload_origin TEXT NOT NULL DEFAULT '';

-- The pieces of resumable uploads in progress, each in a blob of its own,
-- contiguous from byte 0; released once the upload is complete.
CREATE TABLE content_chunks (
    content_id TEXT NOT NULL,
    start_byte BIGINT NOT NULL,
    size       BIGINT NOT NULL,
    blob_key   TEXT NOT NULL,
    PRIMARY KEY (content_id, start_byte)
);

-- +goose Down
DROP TABLE content_chunks;
ALTER TABLE contents DROP COLUMN upload_origin;
