package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/keyring"
)

// A channel's connector keeps its secrets, is found by its channel alone
// (the providers' webhooks name no app) or with its app, and is removed.
func testConnectors(t *testing.T, s herald.Store) {
	wa := &herald.Connector{AppID: "a1", ChannelUUID: "ch1", Provider: herald.ConnectorWhatsAppCloud,
		APIURL: "https://graph.facebook.com/v23.0", PhoneNumberID: "1234",
		Secrets:   herald.ConnectorSecrets{AccessToken: "EAAG", AppSecret: "shh", VerifyToken: "v"},
		CreatedAt: at(1), UpdatedAt: at(1)}
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.PutConnector(ctx, wa) })
	changed := *wa
	changed.Provider, changed.PhoneNumberID, changed.UpdatedAt = herald.ConnectorTelegram, "", at(3)
	changed.Secrets = herald.ConnectorSecrets{BotToken: "123:abc", SecretToken: "tok"}
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.PutConnector(ctx, &changed) })
	changed.CreatedAt = at(1)
	for _, app := range []string{"", "a1"} {
		var got *herald.Connector
		view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
			got, err = q.Connector(ctx, app, "ch1")
			return err
		})
		same(t, "connector of app "+app, got, &changed)
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		if _, err := q.Connector(ctx, "a2", "ch1"); !herald.IsNotFound(err) {
			t.Errorf("another app's connector: %v, want not_found", err)
		}
		return nil
	})
	var deleted, again bool
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		if _, err := tx.DeleteConnector(ctx, "a2", "ch1"); err != nil {
			return err
		}
		deleted, err = tx.DeleteConnector(ctx, "a1", "ch1")
		return err
	})
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		again, err = tx.DeleteConnector(ctx, "a1", "ch1")
		return err
	})
	if !deleted || again {
		t.Errorf("deleted %v then %v, want true then false", deleted, again)
	}

	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		return tx.PutExternalMessageID(ctx, "a1", "ch1", "wamid.1", "m1")
	})
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		id, err := q.MessageByExternalID(ctx, "a1", "ch1", "wamid.1")
		if err != nil || id != "m1" {
			t.Errorf("message by external id: %q, %v", id, err)
		}
		for _, other := range [][2]string{{"a2", "ch1"}, {"a1", "ch2"}} {
			if _, err := q.MessageByExternalID(ctx, other[0], other[1], "wamid.1"); !herald.IsNotFound(err) {
				t.Errorf("external id of %v: %v, want not_found", other, err)
			}
		}
		return nil
	})
}

// A contact's jobs are claimed one at a time, in the order of their
// events, whatever their due times; a job waiting for its retry holds its
// contact's later ones, and a failed one no longer does.
func testConnectorJobs(t *testing.T, s herald.Store) {
	job := func(id, app, contact string, seq int64, due int) *herald.ConnectorJob {
		return &herald.ConnectorJob{ID: id, AppID: app, ChannelUUID: "ch", ContactUUID: contact, MessageID: "m" + id,
			EventSeq: seq, Status: herald.PushPending, NextAttemptAt: at(due), CreatedAt: at(0)}
	}
	var cursor int64
	var moved, stale bool
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		if cursor, err = tx.ConnectorCursor(ctx); err != nil {
			return err
		}
		if moved, err = tx.AdvanceConnectorCursor(ctx, cursor, cursor+5); err != nil {
			return err
		}
		if stale, err = tx.AdvanceConnectorCursor(ctx, cursor, cursor+9); err != nil {
			return err
		}
		return tx.CreateConnectorJobs(ctx, []*herald.ConnectorJob{
			job("j1", "a1", "c1", 1, 5), job("j2", "a1", "c1", 2, 0), job("j3", "a1", "c2", 3, 0), job("j4", "a2", "c3", 4, 0)})
	})
	if !moved || stale {
		t.Fatalf("cursor moved %v from its place, %v from a stale one", moved, stale)
	}
	claim := func(node string, now, limit, perApp int, skip ...string) []string {
		var ids []string
		update(t, s, func(ctx context.Context, tx herald.Tx) error {
			jobs, err := tx.ClaimConnectorJobs(ctx, node, at(now), at(now+10), limit, perApp, skip)
			ids = nil
			for _, j := range jobs {
				ids = append(ids, j.ID)
			}
			return err
		})
		return ids
	}
	// j2 is due but j1, earlier for c1, is not: c1 waits.
	same(t, "claimed at 1", claim("n1", 1, 10, 10), []string{"j3", "j4"})
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		for _, id := range []string{"j3", "j4"} {
			if mine, err := tx.FinishConnectorJob(ctx, "n1", id); err != nil || !mine {
				t.Errorf("finishing %s: %v, %v", id, mine, err)
			}
		}
		return nil
	})
	same(t, "claimed at 6 without a2", claim("n2", 6, 10, 10, "a2"), []string{"j1"})
	same(t, "claimed again", claim("n2", 6, 10, 10), []string(nil))
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		j := job("j1", "a1", "c1", 1, 30)
		j.Attempts, j.LastError = 1, "503"
		if mine, err := tx.RetryConnectorJob(ctx, "n1", j); err != nil || mine {
			t.Errorf("another node's retry: %v, %v", mine, err)
		}
		_, err := tx.RetryConnectorJob(ctx, "n2", j)
		return err
	})
	same(t, "claimed while j1 waits", claim("n1", 20, 10, 10), []string(nil))
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		j := job("j1", "a1", "c1", 1, 30)
		j.Status, j.Attempts = herald.PushFailed, 2
		_, err := tx.RetryConnectorJob(ctx, "", j)
		return err
	})
	// The lease is ended by a release; then j1 is failed and j2 due.
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.ReleaseConnectorLeases(ctx, "") })
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		j := job("j1", "a1", "c1", 1, 30)
		j.Status, j.Attempts = herald.PushFailed, 2
		_, err := tx.ClaimConnectorJobs(ctx, "n3", at(40), at(50), 1, 1, []string{"a2"})
		if err != nil {
			return err
		}
		_, err = tx.RetryConnectorJob(ctx, "n3", j)
		return err
	})
	same(t, "claimed after j1 failed", claim("n1", 60, 10, 1), []string{"j2"})
	var failed []*herald.ConnectorJob
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		if _, err := tx.FinishConnectorJob(ctx, "n1", "j2"); err != nil {
			return err
		}
		failed, err = tx.ConnectorJobs(ctx, "a1", herald.PushFailed, 10)
		return err
	})
	if len(failed) != 1 || failed[0].ID != "j1" || failed[0].Attempts != 2 {
		t.Fatalf("failed jobs %+v, want j1 after 2 attempts", failed)
	}
	view(t, s, func(ctx context.Context, q herald.Queries) error {
		for _, app := range []string{"a1", "a2"} {
			pending, err := q.ConnectorJobs(ctx, app, herald.PushPending, 10)
			if err != nil {
				return err
			}
			if len(pending) != 0 {
				t.Errorf("%s has pending jobs left: %+v", app, pending)
			}
		}
		return nil
	})
}

// ConnectorSecretsAtRest checks that an engine seals connectors' secrets,
// and seals them again when the keys change; open and raw are as for
// SecretsAtRest.
func ConnectorSecretsAtRest(t *testing.T, open func(t *testing.T, k *keyring.Keyring) (herald.Store, error), raw func(t *testing.T) *sql.DB) {
	t.Helper()
	ctx := context.Background()
	key1, key2 := keyring.NewKey(), keyring.NewKey()
	k1, _ := keyring.Parse(key1)
	s, err := open(t, k1)
	if err != nil {
		t.Fatal(err)
	}
	c := &herald.Connector{AppID: "app", ChannelUUID: "ch", Provider: herald.ConnectorWhatsAppCloud, APIURL: "https://graph.example.com",
		PhoneNumberID: "1", Secrets: herald.ConnectorSecrets{AccessToken: "EAAG-plain-token", AppSecret: "plain-app-secret", VerifyToken: "plain-verify"},
		CreatedAt: at(0), UpdatedAt: at(0)}
	update(t, s, func(ctx context.Context, tx herald.Tx) error { return tx.PutConnector(ctx, c) })
	s.Close()
	db := raw(t)
	defer db.Close()
	sealedWith := func(k *keyring.Keyring) {
		t.Helper()
		var settings, secret string
		if err := db.QueryRowContext(ctx, `SELECT settings, secret FROM connectors`).Scan(&settings, &secret); err != nil {
			t.Fatal(err)
		}
		if id, ok := keyring.Sealed(secret); !ok || id != k.ID() {
			t.Fatalf("the connector's secret is %q, not sealed with key %s", secret, k.ID())
		}
		for _, p := range []string{c.Secrets.AccessToken, c.Secrets.AppSecret, c.Secrets.VerifyToken} {
			if strings.Contains(secret+settings, p) {
				t.Fatalf("the connector's row holds the plaintext %q", p)
			}
		}
	}
	sealedWith(k1)
	both, _ := keyring.Parse(key2 + "," + key1)
	if s, err = open(t, both); err != nil {
		t.Fatal(err)
	}
	var got *herald.Connector
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		got, err = q.Connector(ctx, "app", "ch")
		return err
	})
	s.Close()
	same(t, "the connector, opened after the keys changed", got, c)
	k2, _ := keyring.Parse(key2)
	sealedWith(k2)
}

// Events a connector has not passed yet stay, however old, when their app
// has a connector; the cursor's passing lets them go.
func testPruneEventsKeepsWhatConnectorsHaveNotPassed(t *testing.T, s herald.Store) {
	var seqs []int64
	var cursor int64
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		if err := tx.PutConnector(ctx, &herald.Connector{AppID: "app", ChannelUUID: "ch", Provider: herald.ConnectorTelegram,
			Secrets: herald.ConnectorSecrets{BotToken: "1:x"}, CreatedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		for i := range 4 {
			e, err := herald.NewEvent(fmt.Sprintf("e%d", i), "app", herald.EventMessageSent, at(i), nil, &herald.EventData{})
			if err != nil {
				return err
			}
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		if cursor, err = q.ConnectorCursor(ctx); err != nil {
			return err
		}
		events, err := q.EventsSince(ctx, cursor, 10)
		for _, e := range events {
			seqs = append(seqs, e.Seq)
		}
		return err
	})
	if len(seqs) != 4 {
		t.Fatalf("events after the connector cursor: %v", seqs)
	}
	update(t, s, func(ctx context.Context, tx herald.Tx) error {
		// Push has passed them all: only the connectors hold them.
		pushCursor, err := tx.PushCursor(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.AdvancePushCursor(ctx, pushCursor, seqs[3]); err != nil {
			return err
		}
		_, err = tx.AdvanceConnectorCursor(ctx, cursor, seqs[0])
		return err
	})
	var pruned int
	update(t, s, func(ctx context.Context, tx herald.Tx) (err error) {
		pruned, err = tx.PruneEvents(ctx, at(60), 100)
		return err
	})
	var left []*herald.Event
	view(t, s, func(ctx context.Context, q herald.Queries) (err error) {
		left, err = q.Events(ctx, "app", 0, 10)
		return err
	})
	if pruned != 1 || len(left) != 3 || left[0].Seq != seqs[1] {
		t.Fatalf("pruned %d, left %d events", pruned, len(left))
	}
}
