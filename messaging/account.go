package messaging

import (
	"context"

	"github.com/heraldhq/herald"
)

// Account is what Herald can say of the app behind a token: Callbell's
// GET /auth/me and GET /plan.
type Account struct {
	App   *herald.App
	Token *herald.Token
	// Channels, Agents and Teams are what the app has configured.
	Channels int
	Agents   int
	Teams    []*herald.Team
}

// AccountOf describes the app of a token, which must be valid.
func (s *Service) AccountOf(ctx context.Context, token string) (out *Account, err error) {
	v, err := s.validToken(ctx, hashToken(token))
	if err != nil {
		return nil, err
	}
	out = &Account{}
	err = s.Store.View(ctx, func(q herald.Queries) error {
		if out.App, err = q.App(ctx, v.app); err != nil {
			return err
		}
		if out.Token, err = q.Token(ctx, v.app, v.id); err != nil {
			return err
		}
		channels, err := q.Channels(ctx, v.app)
		if err != nil {
			return err
		}
		for _, c := range channels {
			if c.DiscardedAt == nil {
				out.Channels++
			}
		}
		if _, out.Agents, err = q.Agents(ctx, v.app, herald.AgentFilter{}, 0, 0); err != nil {
			return err
		}
		out.Teams, err = q.Teams(ctx, v.app)
		return err
	})
	return out, err
}
