-- +goose Up
CREATE TABLE webhooks (
    id             TEXT PRIMARY KEY,
    app_id         TEXT NOT NULL,
    format         TEXT NOT NULL,
    version        TEXT NOT NULL,
    target_url     TEXT NOT NULL,
    events         TEXT NOT NULL,
    secret         TEXT NOT NULL,
    signing_key    TEXT NOT NULL,
    config         TEXT,
    status         TEXT NOT NULL,
    status_reason  TEXT NOT NULL DEFAULT '',
    retry_schedule TEXT NOT NULL,
    timeout_ms     BIGINT NOT NULL,
    cursor         BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX webhooks_app ON webhooks (app_id, id);

CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    app_id           TEXT NOT NULL,
    webhook_id       TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event_seq        BIGINT NOT NULL,
    event_type       TEXT NOT NULL,
    ordering_key     TEXT NOT NULL,
    body             BYTEA NOT NULL,
    status           TEXT NOT NULL,
    -- Held: an earlier delivery of the same webhook and ordering key is
    -- unfinished; finishing it releases the next one.
    held             INTEGER NOT NULL DEFAULT 0,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_until      BIGINT,
    last_status_code BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL,
    delivered_at     BIGINT
);
-- What may be claimed: claims cost what they take, whatever the backlog.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending' AND held = 0;
-- The unfinished deliveries of one webhook and ordering key, in order.
CREATE INDEX deliveries_order ON deliveries (webhook_id, ordering_key, held, event_seq)
    WHERE status IN ('pending', 'failed');
-- The delivery log of a webhook, newest first.
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, id);

CREATE TABLE attempts (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id      TEXT NOT NULL,
    started_at       BIGINT NOT NULL,
    duration_us      BIGINT NOT NULL,
    status_code      BIGINT NOT NULL,
    response_headers TEXT,
    response_body    BYTEA,
    error            TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, id);

-- +goose Down
DROP TABLE attempts;
DROP TABLE deliveries;
DROP TABLE webhooks;
