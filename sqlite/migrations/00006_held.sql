-- +goose Up
-- The held deliveries: nearly always none, which a completion checks here
-- before it looks for the next delivery of each queue it frees.
CREATE INDEX deliveries_held ON deliveries (held) WHERE held = 1;

-- +goose Down
DROP INDEX deliveries_held;
