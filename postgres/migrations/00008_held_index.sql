-- +goose Up
-- The held deliveries, back (00007 dropped them with deliveries_order's
-- old key): nearly always none, which a completion asks here before it
-- releases the heads of the queues it frees. Without it, PostgreSQL could
-- plan that release as a scan of every delivery for the held ones, and did
-- when its statistics still described a small table.
CREATE INDEX IF NOT EXISTS deliveries_held ON deliveries (held) WHERE held = 1;

-- +goose Down
DROP INDEX deliveries_held;
