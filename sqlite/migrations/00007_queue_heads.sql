-- +goose Up
-- A completion releases its queue's head, found by (webhook_id,
-- ordering_key) alone: with held out of deliveries_order, releasing a
-- delivery no longer moves its entry there, and deliveries_held, whose
-- entries each release deleted, is no longer needed.
DROP INDEX deliveries_held;
DROP INDEX deliveries_order;
CREATE INDEX deliveries_order ON deliveries (webhook_id, ordering_key, event_seq)
    WHERE status IN ('pending', 'failed');

-- +goose Down
DROP INDEX deliveries_order;
CREATE INDEX deliveries_order ON deliveries (webhook_id, ordering_key, held, event_seq)
    WHERE status IN ('pending', 'failed');
CREATE INDEX deliveries_held ON deliveries (held) WHERE held = 1;
