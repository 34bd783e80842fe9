package messaging

import (
	"context"
	"encoding/json"

	"github.com/heraldhq/herald"
)

// IdentityInput is an identity write. With PATCH semantics, nil fields are
// left as they are; with PUT semantics they are cleared.
type IdentityInput struct {
	DisplayName  *string         `json:"display_name"`
	AvatarURL    *string         `json:"avatar_url"`
	FirstName    *string         `json:"first_name"`
	LastName     *string         `json:"last_name"`
	PhoneNumber  *string         `json:"phone_number"`
	EmailAddress *string         `json:"email_address"`
	Metadata     json.RawMessage `json:"metadata"`
}

// IdentityMode says how PutIdentity treats an existing identity.
type IdentityMode int

const (
	// IdentityReplace creates the identity or replaces all its fields (PUT).
	IdentityReplace IdentityMode = iota
	// IdentityCreate creates it, and fails with id_in_use if it exists (POST).
	IdentityCreate
	// IdentityPatch changes the given fields of an existing identity (PATCH).
	IdentityPatch
)

// PutIdentity writes a user's identity and reports whether it was created.
func (s *Service) PutIdentity(ctx context.Context, appID, userID string, in IdentityInput, mode IdentityMode) (out *herald.Identity, created bool, err error) {
	if err := checkUserID("user_id", userID); err != nil {
		return nil, false, err
	}
	meta, err := checkMetadata("metadata", in.Metadata)
	if err != nil {
		return nil, false, err
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		now := s.now()
		id, err := tx.Identity(ctx, appID, userID)
		switch {
		case herald.IsNotFound(err):
			if mode == IdentityPatch {
				return err
			}
			id = &herald.Identity{AppID: appID, UserID: userID, CreatedAt: now}
			created = true
		case err != nil:
			return err
		case mode == IdentityCreate:
			return herald.Errorf(herald.EIDInUse, "User %q already has an identity; use PUT or PATCH to change it.", userID)
		case mode == IdentityReplace:
			id = &herald.Identity{AppID: appID, UserID: userID, CreatedAt: id.CreatedAt}
		}
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&id.DisplayName, in.DisplayName)
		set(&id.AvatarURL, in.AvatarURL)
		set(&id.FirstName, in.FirstName)
		set(&id.LastName, in.LastName)
		set(&id.PhoneNumber, in.PhoneNumber)
		set(&id.EmailAddress, in.EmailAddress)
		if in.Metadata != nil || mode != IdentityPatch {
			id.Metadata = meta
		}
		id.UpdatedAt = now
		if err := tx.PutIdentity(ctx, id); err != nil {
			return err
		}
		typ := herald.EventIdentityUpdated
		if created {
			typ = herald.EventIdentityCreated
		}
		out = id
		return s.record(ctx, tx, appID, typ, nil, &herald.EventData{Identity: id})
	})
	if err != nil {
		return nil, false, err
	}
	return out, created, nil
}

// Identity returns a user's identity.
func (s *Service) Identity(ctx context.Context, appID, userID string) (id *herald.Identity, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		id, err = q.Identity(ctx, appID, userID)
		return err
	})
	return id, err
}

// Identities returns the identities that exist among a list of users.
func (s *Service) Identities(ctx context.Context, appID string, userIDs []string) (ids map[string]*herald.Identity, err error) {
	if len(userIDs) == 0 {
		return map[string]*herald.Identity{}, nil
	}
	err = s.Store.View(ctx, func(q herald.Queries) error {
		ids, err = q.Identities(ctx, appID, userIDs)
		return err
	})
	return ids, err
}

// DeleteIdentity removes a user's identity. The user's conversations and
// messages stay; they are then shown with the bare user id.
func (s *Service) DeleteIdentity(ctx context.Context, appID, userID string) error {
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		id, err := tx.Identity(ctx, appID, userID)
		if err != nil {
			return err
		}
		if err := tx.DeleteIdentity(ctx, appID, userID); err != nil {
			return err
		}
		return s.record(ctx, tx, appID, herald.EventIdentityDeleted, nil, &herald.EventData{Identity: id})
	})
}
