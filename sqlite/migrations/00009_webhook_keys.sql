-- +goose Up
-- An optional ed25519 key of each webhook (Standard Webhooks' v1a
-- signatures), and what a rotation keeps of the keys it replaced: they sign
-- beside the new ones until previous_keys_until, then are dropped.
--
-- Secrets are sealed by Herald (see package keyring), not by SQL: the Down
-- migration leaves them sealed, and a Herald that predates sealing cannot
-- sign with them.
ALTER TABLE webhooks ADD COLUMN asymmetric_key TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN previous_signing_key TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN previous_asymmetric_key TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN previous_keys_until INTEGER;

-- +goose Down
ALTER TABLE webhooks DROP COLUMN previous_keys_until;
ALTER TABLE webhooks DROP COLUMN previous_asymmetric_key;
ALTER TABLE webhooks DROP COLUMN previous_signing_key;
ALTER TABLE webhooks DROP COLUMN asymmetric_key;
