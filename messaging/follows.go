package messaging

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald"
)

// Follows (Server API 2.0 and later, [P2] platform/users/following.md): a
// user follows others explicitly, one at a time or in a batch, and follows
// implicitly the users they share a conversation with ("a user is followed
// if Your User has ever been in a conversation with them, or followed them
// explicitly", docs.layer.com reference/client_api/identities.out): the
// listings, counts and checks below see both (herald.FollowedQueries).
// Unfollowing removes an explicit follow; a conversation partner stays
// followed, as "any participant in a Conversation with your user is
// already implicitly followed and cannot be explicitly unfollowed"
// (docs.layer.com sdk/web/identities). The MaxFollows quota counts
// explicit follows.

func checkFollow(follower, followed string) (string, error) {
	if err := checkUserID("user_id", follower); err != nil {
		return "", err
	}
	followed = herald.LocalID(followed, herald.IdentityIDPrefix)
	if err := checkUserID("followed_user_id", followed); err != nil {
		return "", err
	}
	if followed == follower {
		return "", herald.PropertyError(herald.EInvalidProperty, "followed_user_id", "A user cannot follow themselves.")
	}
	return followed, nil
}

// Follow makes follower follow followed; following someone followed
// already changes nothing.
func (s *Service) Follow(ctx context.Context, appID, follower, followed string) error {
	followed, err := checkFollow(follower, followed)
	if err != nil {
		return err
	}
	return s.follow(ctx, appID, follower, []string{followed})
}

// FollowMany makes follower follow every user in followed (identity ids
// or user ids), all or none of them.
func (s *Service) FollowMany(ctx context.Context, appID, follower string, followed []string) error {
	if err := checkUserID("user_id", follower); err != nil {
		return err
	}
	if followed == nil {
		return herald.Errorf(herald.EInvalidRequest, "The body must be a list of identity ids.")
	}
	ids, err := checkUserList("", followed, MaxFollows)
	if err != nil {
		return err
	}
	for i, id := range ids {
		if id == follower {
			return herald.PropertyError(herald.EInvalidProperty, fmt.Sprintf("[%d]", i), "A user cannot follow themselves.")
		}
	}
	return s.follow(ctx, appID, follower, ids)
}

func (s *Service) follow(ctx context.Context, appID, follower string, ids []string) error {
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		now := s.now()
		if _, err := s.ensureUser(ctx, tx, appID, follower, now); err != nil {
			return err
		}
		added, err := tx.AddFollows(ctx, appID, follower, ids, now)
		if err != nil || len(added) == 0 {
			return err
		}
		n, err := tx.CountFollowing(ctx, appID, follower)
		if err != nil {
			return err
		}
		if n > MaxFollows {
			return &herald.Error{ID: herald.EQuotaExceeded,
				Message: fmt.Sprintf("A user follows at most %d users; %q would follow %d.", MaxFollows, follower, n),
				Data:    map[string]any{"property": "following", "limit": MaxFollows}}
		}
		return s.record(ctx, tx, appID, herald.EventUserFollowed, nil, &herald.EventData{UserID: follower, Added: added})
	})
}

// Unfollow makes follower stop following followed; unfollowing someone not
// followed changes nothing.
func (s *Service) Unfollow(ctx context.Context, appID, follower, followed string) error {
	followed, err := checkFollow(follower, followed)
	if err != nil {
		return err
	}
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		removed, err := tx.RemoveFollow(ctx, appID, follower, followed)
		if err != nil || !removed {
			return err
		}
		return s.record(ctx, tx, appID, herald.EventUserUnfollowed, nil, &herald.EventData{UserID: follower, Removed: []string{followed}})
	})
}

// IsFollowing returns nil when follower follows followed, and not_found
// when not, as Layer answered 204 or 404.
func (s *Service) IsFollowing(ctx context.Context, appID, follower, followed string) error {
	followed, err := checkFollow(follower, followed)
	if err != nil {
		return err
	}
	return s.Store.View(ctx, func(q herald.Queries) error {
		ok, err := q.IsFollowed(ctx, appID, follower, followed)
		if err == nil && !ok {
			err = &herald.Error{ID: herald.ENotFound, Message: fmt.Sprintf("User %q does not follow %q.", follower, followed),
				Data: map[string]any{"type": "follow", "id": followed}}
		}
		return err
	})
}

// FollowingCount counts the users follower follows: the total that a
// listing of them pages through (Layer-Count).
func (s *Service) FollowingCount(ctx context.Context, appID, follower string) (n int, err error) {
	if err := checkUserID("user_id", follower); err != nil {
		return 0, err
	}
	err = s.Store.View(ctx, func(q herald.Queries) error {
		n, err = q.CountFollowed(ctx, appID, follower)
		return err
	})
	return n, err
}

// Following lists a page of the users follower follows, the latest followed
// first, after fromID (an identity id or a user id; "": from the first),
// with the identities of those that have one. pageSize 0 is
// DefaultFollowingPageSize.
func (s *Service) Following(ctx context.Context, appID, follower, fromID string, pageSize int) (ids []string, identities map[string]*herald.Identity, err error) {
	if err := checkUserID("user_id", follower); err != nil {
		return nil, nil, err
	}
	switch {
	case pageSize == 0:
		pageSize = DefaultFollowingPageSize
	case pageSize < 0 || pageSize > MaxFollowingPageSize:
		return nil, nil, herald.PropertyError(herald.EInvalidProperty, "page_size", "page_size must be from 1 to %d.", MaxFollowingPageSize)
	}
	fromID = herald.LocalID(fromID, herald.IdentityIDPrefix)
	err = s.Store.View(ctx, func(q herald.Queries) error {
		ids, err = q.Followed(ctx, appID, follower, fromID, pageSize)
		if herald.IsNotFound(err) {
			return herald.PropertyError(herald.EInvalidProperty, "from_id", "from_id %q is not a user %q follows.", fromID, follower)
		}
		if err != nil {
			return err
		}
		identities, err = q.Identities(ctx, appID, ids)
		return err
	})
	return ids, identities, err
}
