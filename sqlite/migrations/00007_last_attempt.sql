-- +goose Up
-- A delivery carries its last attempt (with last_status_code and
-- last_error); the attempts table keeps the ones before it, moved there by
-- the trigger below when the next one is recorded. A delivery delivered at
-- its first attempt, nearly every one, writes no attempt row.
ALTER TABLE deliveries ADD COLUMN last_attempt_at INTEGER;
ALTER TABLE deliveries ADD COLUMN last_attempt_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN last_response_headers TEXT;
ALTER TABLE deliveries ADD COLUMN last_response_body BLOB;
-- The last attempt of each delivery moves into it.
CREATE TEMP TABLE last_attempts AS SELECT a.* FROM attempts a
    WHERE a.id = (SELECT MAX(b.id) FROM attempts b WHERE b.delivery_id = a.delivery_id);
UPDATE deliveries SET last_attempt_at = l.started_at, last_attempt_us = l.duration_us,
    last_status_code = l.status_code, last_error = l.error, last_response_headers = l.response_headers,
    last_response_body = l.response_body
    FROM last_attempts l WHERE l.delivery_id = deliveries.id;
DELETE FROM attempts WHERE id IN (SELECT id FROM last_attempts);
DROP TABLE last_attempts;
-- +goose StatementBegin
CREATE TRIGGER deliveries_last_attempt AFTER UPDATE OF last_attempt_at ON deliveries
WHEN OLD.last_attempt_at IS NOT NULL
BEGIN
    INSERT INTO attempts (delivery_id, started_at, duration_us, status_code, response_headers, response_body, error)
    VALUES (OLD.id, OLD.last_attempt_at, OLD.last_attempt_us, OLD.last_status_code, OLD.last_response_headers,
        OLD.last_response_body, OLD.last_error);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER deliveries_last_attempt;
INSERT INTO attempts (delivery_id, started_at, duration_us, status_code, response_headers, response_body, error)
    SELECT id, last_attempt_at, last_attempt_us, last_status_code, last_response_headers, last_response_body,
    last_error FROM deliveries WHERE last_attempt_at IS NOT NULL;
ALTER TABLE deliveries DROP COLUMN last_response_body;
ALTER TABLE deliveries DROP COLUMN last_response_headers;
ALTER TABLE deliveries DROP COLUMN last_attempt_us;
ALTER TABLE deliveries DROP COLUMN last_attempt_at;
