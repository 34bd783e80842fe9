-- +goose Up
-- The agents of an app's team inbox (herald.Agent). email_key is the
-- email in lower case: one agent per email, regardless of case.
CREATE TABLE agents (
    uuid                     TEXT PRIMARY KEY,
    app_id                   TEXT NOT NULL,
    email                    TEXT NOT NULL,
    email_key                TEXT NOT NULL,
    name                     TEXT NOT NULL DEFAULT '',
    role                     TEXT NOT NULL,
    available                INTEGER NOT NULL DEFAULT 0,
    available_updated_at     INTEGER NOT NULL,
    custom_status_uuid       TEXT NOT NULL DEFAULT '',
    custom_status_updated_at INTEGER,
    session                  TEXT NOT NULL DEFAULT '',
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER NOT NULL
);
CREATE UNIQUE INDEX agents_email ON agents (app_id, email_key);
CREATE INDEX agents_app ON agents (app_id, created_at, uuid);

CREATE TABLE teams (
    uuid       TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL,
    name       TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX teams_app ON teams (app_id, created_at, uuid);
-- One default team per app.
CREATE UNIQUE INDEX teams_default ON teams (app_id) WHERE is_default = 1;

CREATE TABLE team_members (
    app_id     TEXT NOT NULL,
    team_uuid  TEXT NOT NULL,
    agent_uuid TEXT NOT NULL,
    added_at   INTEGER NOT NULL,
    PRIMARY KEY (team_uuid, agent_uuid)
) WITHOUT ROWID;
CREATE INDEX team_members_agent ON team_members (agent_uuid);

CREATE TABLE custom_statuses (
    uuid       TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL,
    name       TEXT NOT NULL,
    emoji      TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX custom_statuses_app ON custom_statuses (app_id, created_at, uuid);

-- The team inbox a contact's conversation belongs to, '' for none.
ALTER TABLE contacts ADD COLUMN team_uuid TEXT NOT NULL DEFAULT '';
CREATE INDEX contacts_team ON contacts (app_id, team_uuid);

-- +goose Down
DROP INDEX contacts_team;
ALTER TABLE contacts DROP COLUMN team_uuid;
DROP TABLE custom_statuses;
DROP TABLE team_members;
DROP TABLE teams;
DROP TABLE agents;
