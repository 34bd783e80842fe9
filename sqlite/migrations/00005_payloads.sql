-- +goose Up
-- Each rendered body is stored once, however many deliveries send it (the
-- webhooks that render an event alike share it), and the updates of a
-- delivery rewrite a slim row instead of a row carrying its body.
CREATE TABLE payloads (
    id   TEXT PRIMARY KEY,
    body BLOB NOT NULL,
    -- The deliveries that send this body: removing the last one removes it.
    refs INTEGER NOT NULL
);
INSERT INTO payloads (id, body, refs) SELECT id, body, 1 FROM deliveries;
ALTER TABLE deliveries ADD COLUMN payload_id TEXT NOT NULL DEFAULT '';
UPDATE deliveries SET payload_id = id;
ALTER TABLE deliveries DROP COLUMN body;

-- +goose Down
ALTER TABLE deliveries ADD COLUMN body BLOB NOT NULL DEFAULT x'';
UPDATE deliveries SET body = (SELECT body FROM payloads WHERE payloads.id = deliveries.payload_id);
ALTER TABLE deliveries DROP COLUMN payload_id;
DROP TABLE payloads;
