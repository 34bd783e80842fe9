-- +goose Up
-- How many deliveries are held, kept by triggers in the transaction that
-- changes them: nearly always none, which a completion reads here before
-- it looks for the heads of the queues it frees. (An index of the held
-- deliveries would tell as much, at the cost of an entry deleted at a
-- random place by every release; this is one row, rewritten once per
-- commit.)
CREATE TABLE held_deliveries (n INTEGER NOT NULL);
INSERT INTO held_deliveries (n) SELECT COUNT(*) FROM deliveries WHERE held = 1;

-- +goose StatementBegin
CREATE TRIGGER deliveries_held_insert AFTER INSERT ON deliveries WHEN NEW.held = 1
BEGIN
    UPDATE held_deliveries SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER deliveries_held_update AFTER UPDATE OF held ON deliveries WHEN NEW.held != OLD.held
BEGIN
    UPDATE held_deliveries SET n = n + NEW.held - OLD.held;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER deliveries_held_delete AFTER DELETE ON deliveries WHEN OLD.held = 1
BEGIN
    UPDATE held_deliveries SET n = n - 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER deliveries_held_delete;
DROP TRIGGER deliveries_held_update;
DROP TRIGGER deliveries_held_insert;
DROP TABLE held_deliveries;
