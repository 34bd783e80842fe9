-- +goose Up
-- Each user's view of each conversation they take part in, or took part
-- in: kept as messages are sent, receipted and deleted, so that listing a
-- user's conversations with their unread counts and last messages, and
-- counting their badge, reads no messages but the last ones. Former
-- participants keep their row (member = 0), so that their counts hold when
-- they are added again.
CREATE TABLE conversation_inbox (
    conversation_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    app_id          TEXT NOT NULL,
    member          INTEGER NOT NULL DEFAULT 1,
    -- When the user was last added: the conversation's creation for those
    -- it was created with.
    joined_at       INTEGER NOT NULL,
    -- Live messages naming the user as a recipient not read by them, and
    -- not deleted from their devices.
    unread_count    INTEGER NOT NULL DEFAULT 0,
    -- The newest live message the user has not deleted from their devices;
    -- 0 when none.
    last_position   INTEGER NOT NULL DEFAULT 0,
    -- That message's sending time, or the conversation's creation.
    active_at       INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;
CREATE INDEX conversation_inbox_active ON conversation_inbox (app_id, user_id, active_at, conversation_id)
    WHERE member = 1;

-- The count an app sets for each user's badge.
CREATE TABLE user_badges (
    app_id                TEXT NOT NULL,
    user_id               TEXT NOT NULL,
    external_unread_count INTEGER NOT NULL,
    PRIMARY KEY (app_id, user_id)
) WITHOUT ROWID;

INSERT INTO conversation_inbox (conversation_id, user_id, app_id, member, joined_at, unread_count, last_position, active_at)
SELECT p.conversation_id, p.user_id, p.app_id, 1, c.created_at,
    (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.deleted_at IS NULL
        AND EXISTS (SELECT 1 FROM json_each(m.recipient_status) s WHERE s.key = p.user_id AND s.value IN ('sent', 'delivered'))
        AND NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.message_id = m.id AND h.user_id = p.user_id)),
    0, c.created_at
FROM conversation_participants p JOIN conversations c ON c.id = p.conversation_id
WHERE c.deleted_at IS NULL;

UPDATE conversation_inbox SET last_position = COALESCE((SELECT MAX(m.position) FROM messages m
    WHERE m.conversation_id = conversation_inbox.conversation_id AND m.deleted_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.message_id = m.id AND h.user_id = conversation_inbox.user_id)), 0);
UPDATE conversation_inbox SET active_at = (SELECT m.sent_at FROM messages m
    WHERE m.conversation_id = conversation_inbox.conversation_id AND m.position = conversation_inbox.last_position)
WHERE last_position > 0;

-- +goose Down
DROP TABLE user_badges;
DROP TABLE conversation_inbox;
