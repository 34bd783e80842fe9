package herald

import "context"

// ListingQueries count what listings page through, for the totals Layer's
// clients read from Layer-Count.
type ListingQueries interface {
	// CountAnnouncements counts a user's announcements, those
	// Announcements lists.
	CountAnnouncements(ctx context.Context, appID, userID string) (int, error)
}

// FollowedQueries read whom a user follows as Layer counted it: the users
// they follow explicitly, and those they share a conversation with ("a
// user is followed if Your User has ever been in a conversation with them,
// or followed them explicitly", docs.layer.com
// reference/client_api/identities.out). Explicit follows alone are
// UserQueries.Following's.
type FollowedQueries interface {
	// Followed lists up to limit of the users followerID follows, the
	// latest first (an explicit follow by its time, a shared conversation
	// by its creation), after the user after ("": from the first), who
	// must be followed; otherwise not_found.
	Followed(ctx context.Context, appID, followerID, after string, limit int) ([]string, error)
	// CountFollowed counts the users Followed lists.
	CountFollowed(ctx context.Context, appID, followerID string) (int, error)
	// IsFollowed reports whether Followed lists followedID.
	IsFollowed(ctx context.Context, appID, followerID, followedID string) (bool, error)
}
