-- +goose Up
-- The id of the API request that recorded an event, and caused the
-- deliveries of it, so that the delivery engine's log lines name the
-- request; '' for events of other origins (sockets, schedules, engines).
ALTER TABLE events ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN request_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE deliveries DROP COLUMN request_id;
ALTER TABLE events DROP COLUMN request_id;
