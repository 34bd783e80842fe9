// Package storetest is the conformance suite of Herald's storage engines: every engine runs it from its own tests.
//
// The tests hold for an engine that group-commits concurrent updates in one
// transaction (SQLite's single writer) as much as for one that runs each
// update in its own transaction, concurrently with the others, and runs an
// update's function again when its transaction has to be retried
// (PostgreSQL). So an update's function only ever sets variables it owns,
// which a second run overwrites; no test assumes that concurrent updates
// are serialized, nor that an event has its Seq before its update returned.
package storetest

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// Run runs every conformance test against stores made by open; open returns a fresh, empty, migrated store and registers its Close with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) herald.Store) {
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) { c.run(t, open(t)) })
	}
}

var tests = []struct {
	name string
	run  func(t *testing.T, s herald.Store)
}{
	// basics.go
	{"FailedUpdatesLeaveNothing", testFailedUpdatesLeaveNothing},
	{"AfterCommitRunsOnlyOnSuccess", testAfterCommitRunsOnlyOnSuccess},
	{"CanceledUpdateWritesNothing", testCanceledUpdateWritesNothing},
	{"ViewIsReadOnly", testViewIsReadOnly},
	{"EventLog", testEventLog},
	{"IdentitiesOfUsers", testIdentitiesOfUsers},
	{"Gone", testGone},
	{"UnboundContent", testUnboundContent},

	// tokens.go
	{"Tokens", testTokens},
	{"TokenRevision", testTokenRevision},
	{"TouchTokens", testTouchTokens},
	{"TokensLockedForUpdate", testTokensLockedForUpdate},
	// content.go
	{"DropContent", testDropContent}, {"ContentChunks", testContentChunks},
	// exports.go
	{"ExportKeysAndSchedules", testExportKeysAndSchedules}, {"ExportLifecycle", testExportLifecycle},
	{"ExportPages", testExportPages},

	// channels.go
	{"Channels", testChannels}, {"AgentsTeamsStatuses", testAgentsTeamsStatuses},
	{"Contacts", testContacts},
	{"ContactsListing", testContactsListing},
	{"MessageChannelRoundTrip", testMessageChannelRoundTrip},
	{"MessageWritesWithinAnUpdate", testMessageWritesWithinAnUpdate},
	{"ConversationContact", testConversationContact},
	{"CRMFields", testCRMFields}, {"Funnels", testFunnels}, {"ContactFields", testContactFields},
	{"Templates", testTemplates}, {"ContactLastInbound", testContactLastInbound}, // templates.go

	{"UpdateWebhookSettings", testUpdateWebhookSettings}, {"FilteredDeliveries", testFilteredDeliveries}, // webhookadmin.go
	// webhooks.go
	{"UpdateWebhookSavesEverything", testUpdateWebhookSavesEverything},
	{"WebhookEvents", testWebhookEvents},
	{"WebhookQueues", testWebhookQueues}, {"RequestIDs", testRequestIDs}, // queues.go
	{"RequeueDeliveries", testRequeueDeliveries},
	{"ClaimTakesOnlyDueDeliveries", testClaimTakesOnlyDueDeliveries},
	{"LeaseHoldsUntilItEnds", testLeaseHoldsUntilItEnds},
	{"ConcurrentClaimsNeverShare", testConcurrentClaimsNeverShare},
	{"OrderingKeyHoldsDeliveries", testOrderingKeyHoldsDeliveries},
	{"QueuesSurviveRacingCreatesAndCompletions", testQueuesSurviveRacingCreatesAndCompletions},
	{"CompleteManyDeliveriesAtOnce", testCompleteManyDeliveriesAtOnce},
	{"HeldDeliveriesFollowTheirHead", testHeldDeliveriesFollowTheirHead},
	{"DeliveriesCreatedLeased", testDeliveriesCreatedLeased},
	{"CompletionsLeaseWhatTheyRelease", testCompletionsLeaseWhatTheyRelease},
	{"ReleaseLeases", testReleaseLeases},
	{"ClaimWithinCaps", testClaimWithinCaps},
	{"ReturnDeliveries", testReturnDeliveries},
	{"CompletionsLeaseWithinWebhookBounds", testCompletionsLeaseWithinWebhookBounds},
	{"WebhookKeys", testWebhookKeys},

	// cluster.go
	{"RecoverLeasesOfSilentNodes", testRecoverLeasesOfSilentNodes},
	{"ClaimJob", testClaimJob},
	{"ConcurrentClaimJobHasOneWinner", testConcurrentClaimJobHasOneWinner},
	{"PruneDeliveries", testPruneDeliveries},
	{"DeliveriesShareBodies", testDeliveriesShareBodies},
	{"PruneEvents", testPruneEvents},

	// quotas.go
	{"CountAndListWebhooks", testCountAndListWebhooks},
	{"MarkWebhookDeleted", testMarkWebhookDeleted},
	{"QueuedEvents", testQueuedEvents},
	{"DropUnfinishedDeliveries", testDropUnfinishedDeliveries},
	{"ContentUsage", testContentUsage},

	// users.go
	{"UserRecords", testUserRecords}, {"BlockLists", testBlockLists}, {"Follows", testFollows},
	{"SessionTTL", testSessionTTL}, {"UserWritesRollBack", testUserWritesRollBack},
	// inbox.go
	{"MessagePositions", testMessagePositions}, {"InboxCounts", testInboxCounts}, {"InboxListing", testInboxListing}, {"InboxMessages", testInboxMessages},
	{"ConversationDeletedForUser", testConversationDeletedForUser}, {"AnnouncementDeletedForUser", testAnnouncementDeletedForUser}, {"PushTokens", testPushTokens},
	{"Presence", testPresence}, // presence.go
	// listings.go
	{"CountAnnouncements", testCountAnnouncements}, {"Followed", testFollowed},
	// fanout.go
	{"FanOutReads", testFanOutReads}, {"MessageInboxes", testMessageInboxes}, {"AcquaintedWith", testAcquaintedWith},
	// sessions.go
	{"IdentityKeys", testIdentityKeys}, {"NoncesAndSessions", testNoncesAndSessions},
	// parts.go
	{"MessageParts", testMessageParts},
	{"ScheduledMessages", testScheduledMessages},
	{"ConcurrentScheduledRemovalsHaveOneWinner", testConcurrentScheduledRemovalsHaveOneWinner},
	// push.go
	{"PushProviders", testPushProviders}, {"PushJobs", testPushJobs}, {"ConcurrentPushClaimsNeverShare", testConcurrentPushClaimsNeverShare},
	{"PruneEventsKeepsWhatPushHasNotPassed", testPruneEventsKeepsWhatPushHasNotPassed},
	{"Connectors", testConnectors}, {"ConnectorJobs", testConnectorJobs}, // connectors.go
	{"PruneEventsKeepsWhatConnectorsHaveNotPassed", testPruneEventsKeepsWhatConnectorsHaveNotPassed},
}

// t0 is a fixed instant, whole microseconds, as the stores keep them.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

func update(t *testing.T, s herald.Store, fn func(ctx context.Context, tx herald.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := s.Update(ctx, func(tx herald.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

func view(t *testing.T, s herald.Store, fn func(ctx context.Context, q herald.Queries) error) {
	t.Helper()
	ctx := context.Background()
	if err := s.View(ctx, func(q herald.Queries) error { return fn(ctx, q) }); err != nil {
		t.Fatal(err)
	}
}

// found reports whether read finds its object, failing the test on any
// error but not_found.
func found(t *testing.T, s herald.Store, read func(ctx context.Context, q herald.Queries) error) bool {
	t.Helper()
	ctx := context.Background()
	err := s.View(ctx, func(q herald.Queries) error { return read(ctx, q) })
	if err != nil && !herald.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

func appExists(t *testing.T, s herald.Store, id string) bool {
	t.Helper()
	return found(t, s, func(ctx context.Context, q herald.Queries) error {
		_, err := q.App(ctx, id)
		return err
	})
}

func createApp(ctx context.Context, tx herald.Tx, id string) error {
	return tx.CreateApp(ctx, &herald.App{ID: id, Name: id, CreatedAt: at(0)})
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !herald.IsNotFound(err) {
		t.Fatalf("%s: err = %v, want not_found", what, err)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// same compares two values through their JSON, which covers every field the
// store keeps, instants included (to the microsecond).
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := jsonOf(t, got), jsonOf(t, want); g != w {
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// sameSet compares two lists of ids whatever their order.
func sameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	g, w := sorted(got), sorted(want)
	if jsonOf(t, g) != jsonOf(t, w) {
		t.Fatalf("%s: got %v, want %v", what, g, w)
	}
}

func sorted(ids []string) []string {
	out := append([]string{}, ids...)
	sort.Strings(out)
	return out
}
