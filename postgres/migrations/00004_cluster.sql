-- +goose Up
-- The node holding a delivery's lease, so that the leases of a node that
-- died are released as soon as it is known dead.
ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;

-- Nodes delivering from this database, with their last heartbeat.
CREATE TABLE nodes (
    id      TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL
);

-- Periodic jobs that run once across the nodes: the next run of each.
CREATE TABLE jobs (
    name        TEXT PRIMARY KEY,
    next_run_at BIGINT NOT NULL
);

-- What each node has in flight.
CREATE INDEX deliveries_leased ON deliveries (lease_owner) WHERE lease_owner IS NOT NULL;

-- Retention: delivered deliveries, oldest first.
CREATE INDEX deliveries_delivered ON deliveries (delivered_at) WHERE status = 'delivered';

-- +goose Down
DROP INDEX deliveries_delivered;
DROP INDEX deliveries_leased;
DROP TABLE jobs;
DROP TABLE nodes;
ALTER TABLE deliveries DROP COLUMN lease_owner;
