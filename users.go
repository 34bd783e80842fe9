package herald

import (
	"context"
	"time"
)

// User is what Herald keeps of a user of an app besides their identity and
// their lists: whether they are suspended, and since when the sessions
// issued to them are void. A user needs no such record to take part in
// conversations; one is made by the first change that concerns them.
type User struct {
	AppID     string `json:"-"`
	UserID    string `json:"user_id"`
	Suspended bool   `json:"suspended"`
	// SessionsRevokedAt voids every session issued to the user before it:
	// set when their sessions are deleted, and when they are suspended.
	SessionsRevokedAt *time.Time `json:"sessions_revoked_at,omitempty"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

// Event types of user management. Layer's webhooks never sent these, so
// they stay out of layer.EventTypes; the event log and Herald's own
// consumers see them. Blocks and follows record one event per request,
// with the users it added (Added) or removed (Removed) and the user whose
// list changed (UserID); suspension and sessions carry the User as it is
// after the change; the session TTL event carries SessionTTL.
const (
	EventUserBlocked          = "user.blocked"
	EventUserUnblocked        = "user.unblocked"
	EventUserFollowed         = "user.followed"
	EventUserUnfollowed       = "user.unfollowed"
	EventUserSuspended        = "user.suspended"
	EventUserUnsuspended      = "user.unsuspended"
	EventUserSessionsRevoked  = "user.sessions_revoked"
	EventAppSessionTTLUpdated = "app.session_ttl_updated"
)

// UserQueries are the reads and writes of users' records, block lists,
// follows, and apps' session settings.
type UserQueries interface {
	// User returns a user's record, or not_found when none was made.
	User(ctx context.Context, appID, userID string) (*User, error)
	// PutUser creates or replaces a user's record.
	PutUser(ctx context.Context, u *User) error

	// Blocks lists the users ownerID blocks, in the order they were
	// blocked.
	Blocks(ctx context.Context, appID, ownerID string) ([]string, error)
	// CountBlocks counts the users ownerID blocks.
	CountBlocks(ctx context.Context, appID, ownerID string) (int, error)
	// AddBlocks makes ownerID block userIDs, at the given time; those
	// already blocked keep their time.
	AddBlocks(ctx context.Context, appID, ownerID string, userIDs []string, at time.Time) error
	// RemoveBlocks unblocks userIDs; those not blocked are skipped.
	RemoveBlocks(ctx context.Context, appID, ownerID string, userIDs []string) error
	// BlockedAmong returns those of userIDs that ownerID blocks.
	BlockedAmong(ctx context.Context, appID, ownerID string, userIDs []string) ([]string, error)
	// HideFromBlocks hides a message just created (see MessageHidden) from
	// the participants of its conversation who block its sender or whom its
	// sender blocks, as of its SentAt, and takes it out of their inboxes
	// again: it is neither their last message nor unread for them.
	HideFromBlocks(ctx context.Context, m *Message) error

	// Following lists up to limit of the users followerID follows, the
	// latest followed first, after the followed user after ("": from the
	// first). after must be followed; otherwise not_found.
	Following(ctx context.Context, appID, followerID, after string, limit int) ([]string, error)
	// CountFollowing counts the users followerID follows.
	CountFollowing(ctx context.Context, appID, followerID string) (int, error)
	// IsFollowing reports whether followerID follows followedID.
	IsFollowing(ctx context.Context, appID, followerID, followedID string) (bool, error)
	// AddFollows makes followerID follow followedIDs, at the given time,
	// and returns those it did not follow before, in the given order.
	AddFollows(ctx context.Context, appID, followerID string, followedIDs []string, at time.Time) ([]string, error)
	// RemoveFollow makes followerID stop following followedID, and
	// reports whether it followed them.
	RemoveFollow(ctx context.Context, appID, followerID, followedID string) (bool, error)

	// SessionTTL returns an app's session time to live, 0 when it has none
	// set.
	SessionTTL(ctx context.Context, appID string) (time.Duration, error)
	// SetSessionTTL sets an app's session time to live, to the second.
	SetSessionTTL(ctx context.Context, appID string, ttl time.Duration, at time.Time) error
}
