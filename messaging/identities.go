package messaging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

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
	PublicKey    *string         `json:"public_key"`
	IdentityType *string         `json:"identity_type"`
	Metadata     json.RawMessage `json:"metadata"`
}

// Identity field limits, in bytes, as Layer's Identity object documents
// them (docs.layer.com server_api identity.obj): display and first and last
// names 128, avatar URL 1024, phone number 32, email address 255; metadata
// holds at most 16 keys whose values are strings.
const (
	MaxIdentityNameLength  = 128
	MaxAvatarURLLength     = 1024
	MaxPhoneNumberLength   = 32
	MaxEmailAddressLength  = 255
	MaxPublicKeyLength     = 16 << 10
	MaxIdentityMetadataKey = 16
)

// identityFields names an identity's string fields, for checks and
// Layer-Patch operations.
func identityFields(id *herald.Identity) []struct {
	name string
	dst  *string
	max  int
} {
	return []struct {
		name string
		dst  *string
		max  int
	}{
		{"display_name", &id.DisplayName, MaxIdentityNameLength},
		{"avatar_url", &id.AvatarURL, MaxAvatarURLLength},
		{"first_name", &id.FirstName, MaxIdentityNameLength},
		{"last_name", &id.LastName, MaxIdentityNameLength},
		{"phone_number", &id.PhoneNumber, MaxPhoneNumberLength},
		{"email_address", &id.EmailAddress, MaxEmailAddressLength},
		{"public_key", &id.PublicKey, MaxPublicKeyLength},
		{"identity_type", &id.IdentityType, 4},
	}
}

// checkIdentity checks an identity as it is about to be written.
func checkIdentity(id *herald.Identity, needName bool) error {
	for _, f := range identityFields(id) {
		if len(*f.dst) > f.max {
			e := herald.PropertyError(herald.EInvalidProperty, f.name, "%s is longer than %d bytes.", f.name, f.max)
			e.Data["limit"] = f.max
			return e
		}
	}
	switch id.IdentityType {
	case "", "user", "bot":
	default:
		return herald.PropertyError(herald.EInvalidProperty, "identity_type", "identity_type must be user or bot, not %q.", id.IdentityType)
	}
	if needName && id.DisplayName == "" {
		return herald.PropertyError(herald.EMissingProperty, "display_name", "An identity needs a display_name.")
	}
	return checkIdentityMetadata(id.Metadata)
}

// checkIdentityMetadata applies Layer's rule for identity metadata: "values
// must be strings, nested objects are not supported", 16 keys at most.
func checkIdentityMetadata(raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return herald.PropertyError(herald.EInvalidProperty, "metadata", "metadata must be a JSON object.")
	}
	if len(m) > MaxIdentityMetadataKey {
		e := herald.PropertyError(herald.EInvalidProperty, "metadata", "An identity's metadata holds at most %d keys, not %d.", MaxIdentityMetadataKey, len(m))
		e.Data["limit"] = MaxIdentityMetadataKey
		return e
	}
	for k, v := range m {
		if _, ok := v.(string); !ok {
			return herald.PropertyError(herald.EInvalidProperty, "metadata."+k, "metadata.%s must be a string: an identity's metadata values are strings.", k)
		}
	}
	return nil
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
		out, created, err = s.putIdentity(ctx, tx, appID, userID, in, meta, mode)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return out, created, nil
}

// identityUpsert is the mode of an identity written from an identity
// token's claims: created when missing, even without a display name (a
// token need not carry one), and otherwise changed in the fields given.
const identityUpsert IdentityMode = -1

// putIdentity writes an identity in tx, with metadata meta as checked by
// checkMetadata. An upsert that changes nothing writes and records
// nothing.
func (s *Service) putIdentity(ctx context.Context, tx herald.Tx, appID, userID string, in IdentityInput, meta json.RawMessage, mode IdentityMode) (out *herald.Identity, created bool, err error) {
	now := s.now()
	id, err := tx.Identity(ctx, appID, userID)
	var before herald.Identity
	switch {
	case herald.IsNotFound(err):
		if mode == IdentityPatch {
			return nil, false, err
		}
		id = &herald.Identity{AppID: appID, UserID: userID, CreatedAt: now}
		created = true
	case err != nil:
		return nil, false, err
	case mode == IdentityCreate:
		return nil, false, herald.Errorf(herald.EIDInUse, "User %q already has an identity; use PUT or PATCH to change it.", userID)
	case mode == IdentityReplace:
		id = &herald.Identity{AppID: appID, UserID: userID, CreatedAt: id.CreatedAt}
	default:
		before = *id
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
	set(&id.PublicKey, in.PublicKey)
	set(&id.IdentityType, in.IdentityType)
	patching := mode == IdentityPatch || mode == identityUpsert
	if in.Metadata != nil || !patching {
		id.Metadata = meta
	}
	if mode == identityUpsert && !created && sameIdentity(&before, id) {
		return id, false, nil
	}
	// Layer required display_name when an identity is created or
	// replaced (platform/users/identity.md).
	if err := checkIdentity(id, !patching); err != nil {
		return nil, false, err
	}
	id.UpdatedAt = now
	if err := tx.PutIdentity(ctx, id); err != nil {
		return nil, false, err
	}
	typ := herald.EventIdentityUpdated
	if created {
		typ = herald.EventIdentityCreated
	}
	return id, created, s.record(ctx, tx, appID, typ, nil, &herald.EventData{Identity: id})
}

// sameIdentity reports whether two versions of an identity hold the same
// fields.
func sameIdentity(a, b *herald.Identity) bool {
	for i, f := range identityFields(a) {
		if *f.dst != *identityFields(b)[i].dst {
			return false
		}
	}
	return bytes.Equal(a.Metadata, b.Metadata)
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

// PatchIdentity applies Layer-Patch operations to a user's identity
// ([P1.1] platform/users/identity.md): set or delete one of its fields
// (display_name, avatar_url, …), the whole metadata, or one metadata key
// ("metadata.level").
func (s *Service) PatchIdentity(ctx context.Context, appID, userID string, ops []PatchOperation) (out *herald.Identity, err error) {
	if len(ops) == 0 {
		return nil, herald.Errorf(herald.EInvalidRequest, "The patch holds no operations.")
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		id, err := tx.Identity(ctx, appID, userID)
		if err != nil {
			return err
		}
		meta := map[string]any{}
		if len(id.Metadata) > 0 {
			if err := json.Unmarshal(id.Metadata, &meta); err != nil {
				return err
			}
		}
		for i, op := range ops {
			if err := patchIdentity(id, meta, op, fmt.Sprintf("[%d]", i)); err != nil {
				return err
			}
		}
		id.Metadata = nil
		if len(meta) > 0 {
			if id.Metadata, err = json.Marshal(meta); err != nil {
				return err
			}
		}
		if err := checkIdentity(id, false); err != nil {
			return err
		}
		id.UpdatedAt = s.now()
		if err := tx.PutIdentity(ctx, id); err != nil {
			return err
		}
		out = id
		return s.record(ctx, tx, appID, herald.EventIdentityUpdated, nil, &herald.EventData{Identity: id})
	})
	return out, err
}

func patchIdentity(id *herald.Identity, meta map[string]any, op PatchOperation, where string) error {
	var value any
	switch op.Operation {
	case "set":
		if err := json.Unmarshal(op.Value, &value); err != nil || op.Value == nil {
			return herald.PropertyError(herald.EMissingProperty, where+".value", "%s.value is required to set %s.", where, op.Property)
		}
	case "delete":
	default:
		return herald.PropertyError(herald.EInvalidProperty, where+".operation",
			"%s.operation must be set or delete on an identity, not %q.", where, op.Operation)
	}
	if op.Property == "metadata" {
		for k := range meta {
			delete(meta, k)
		}
		if value == nil {
			return nil
		}
		obj, ok := value.(map[string]any)
		if !ok {
			return herald.PropertyError(herald.EInvalidProperty, where+".value", "%s.value must be an object to set metadata.", where)
		}
		for k, v := range obj {
			meta[k] = v
		}
		return nil
	}
	if key, ok := strings.CutPrefix(op.Property, "metadata."); ok && key != "" {
		if value == nil {
			delete(meta, key)
		} else {
			meta[key] = value
		}
		return nil
	}
	for _, f := range identityFields(id) {
		if f.name != op.Property {
			continue
		}
		if value == nil {
			*f.dst = ""
			return nil
		}
		str, ok := value.(string)
		if !ok {
			return herald.PropertyError(herald.EInvalidProperty, where+".value", "%s.value must be a string to set %s.", where, op.Property)
		}
		*f.dst = str
		return nil
	}
	return herald.PropertyError(herald.EInvalidProperty, where+".property",
		"%s.property %q is no identity field: display_name, avatar_url, first_name, last_name, phone_number, email_address, public_key, identity_type, metadata or metadata.<key>.", where, op.Property)
}
