-- +goose Up
-- Layer's identity fields beyond the profile: the user's public key for
-- end-to-end encryption, and (Server API 3.0) whether the user is a person
-- or a bot.
ALTER TABLE identities ADD COLUMN public_key TEXT NOT NULL DEFAULT '';
ALTER TABLE identities ADD COLUMN identity_type TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE identities DROP COLUMN identity_type;
ALTER TABLE identities DROP COLUMN public_key;
