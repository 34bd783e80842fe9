package herald

import "context"

// ListingQueries count what listings page through, for the totals Layer's
// clients read from Layer-Count.
type ListingQueries interface {
	// CountAnnouncements counts a user's announcements, those
	// Announcements lists.
	CountAnnouncements(ctx context.Context, appID, userID string) (int, error)
}
