-- +goose Up
-- With statistics taken while hardly anything was held, the planner chose
-- this index over deliveries_order to find the next held delivery of a
-- queue, reading every held delivery for each queue a completion freed.
-- Completions no longer ask it whether anything is held at all; they look
-- up the next delivery of each queue they free in deliveries_order.
DROP INDEX deliveries_held;

-- +goose Down
CREATE INDEX deliveries_held ON deliveries (held) WHERE held = 1;
