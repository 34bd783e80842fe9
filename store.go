package herald

import (
	"context"
	"io"
	"math"
	"time"
)

// Store is a storage engine. Every engine (the embedded SQLite one, and
// others) implements it and must pass the conformance suite in storetest.
type Store interface {
	// Update runs fn in a write transaction and commits it. It returns only
	// once the transaction is durable, or failed. An engine may commit the
	// work of several concurrent Update calls in one transaction (group
	// commit); each fn still succeeds or fails on its own: when fn returns an
	// error, none of its writes remain and the others are unaffected. An
	// engine may run fn more than once (after rolling back what it wrote,
	// e.g. to retry a transaction that lost a race, or a batch that one of
	// its updates failed), so fn sets the variables it writes rather than
	// adding to them.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// View runs fn against a consistent snapshot for reading.
	View(ctx context.Context, fn func(q Queries) error) error
	Close() error
}

// RecentEvents is implemented by an engine that keeps the events its node
// appended last in memory, as they were made, so that the node's fan-out
// takes them from there instead of reading them back and decoding their data
// again.
type RecentEvents interface {
	// RecentEventsSince returns up to limit events after afterSeq, in log
	// order, and true if it holds every event after afterSeq that this node
	// committed; false when the caller must read the log. Events appended
	// by other processes are not among them: the log has those.
	RecentEventsSince(afterSeq int64, limit int) ([]*Event, bool)
}

// DeferredUpdates is implemented by an engine that can hold an update back
// for a while, to commit it with the next ones rather than alone: the
// delivery engine's records of outcomes, which nothing waits for, cost a
// commit each at low rates otherwise.
type DeferredUpdates interface {
	// UpdateWithin is Update, run in the engine's next transaction or at
	// the latest within the given time.
	UpdateWithin(ctx context.Context, within time.Duration, fn func(Tx) error) error
}

// AppendHooks is implemented by an engine whose writes can take more work
// into the transaction that appends events: the delivery fan-out, which
// then costs no commit of its own at low rates.
type AppendHooks interface {
	// OnAppend has fn called in every transaction that appends events,
	// once they are numbered and before it commits, in a savepoint of its
	// own: an error rolls back fn's writes and nothing else. The function
	// fn returns, if any, is called once the transaction ended, with
	// whether it committed. Only one fn is kept: the last given.
	OnAppend(fn func(ctx context.Context, tx Tx, events []*Event) (done func(committed bool), err error))
}

// UpdateSoon runs fn as s.Update does, but lets it wait up to within for
// other writes to commit with when s can (see DeferredUpdates): for writes
// that nothing waits for.
func UpdateSoon(ctx context.Context, s Store, within time.Duration, fn func(Tx) error) error {
	if d, ok := s.(DeferredUpdates); ok {
		return d.UpdateWithin(ctx, within, fn)
	}
	return s.Update(ctx, fn)
}

// A Plan reads what a write is to do and returns that write, or nil when
// there is nothing to write; within is how long the write may wait for
// other writes to commit with (see UpdateSoon), 0 for none. A plan may run
// more than once, and must set what it shares with its write afresh each
// time.
type Plan func(q Queries) (write func(Tx) error, within time.Duration, err error)

// PlanAndWrite runs plan and the write it returns. On a SharedStore
// (PostgreSQL) both run in one transaction: each transaction costs round
// trips of its own, its BEGIN and its end, and the plan's reads take no
// lock. Elsewhere (SQLite) the plan runs in a read transaction beside the
// one writer, so that what it reads and renders does not hold the writer,
// and the write in an update of its own.
func PlanAndWrite(ctx context.Context, s Store, plan Plan) error {
	if _, shared := s.(SharedStore); shared {
		return s.Update(ctx, func(tx Tx) error {
			write, _, err := plan(tx)
			if err != nil || write == nil {
				return err
			}
			return write(tx)
		})
	}
	var write func(Tx) error
	var within time.Duration
	if err := s.View(ctx, func(q Queries) (err error) {
		write, within, err = plan(q)
		return err
	}); err != nil || write == nil {
		return err
	}
	if within > 0 {
		return UpdateSoon(ctx, s, within, write)
	}
	return s.Update(ctx, write)
}

// EventsSince returns up to limit events of the log after afterSeq, from s's
// memory when s holds them all (see RecentEvents), else read through q.
func EventsSince(ctx context.Context, s Store, q Queries, afterSeq int64, limit int) ([]*Event, error) {
	if r, ok := s.(RecentEvents); ok {
		if events, held := r.RecentEventsSince(afterSeq, limit); held {
			return events, nil
		}
	}
	return q.EventsSince(ctx, afterSeq, limit)
}

type priorityKey struct{}

// WithPriority marks ctx as carrying work that what others wait for depends
// on, and whose concurrency is bounded already: the delivery engine's loops.
// An engine that limits how many requests reach its database at once lets
// such work past the limit, so that a flood of requests cannot starve the
// deliveries of what they write.
func WithPriority(ctx context.Context) context.Context {
	return context.WithValue(ctx, priorityKey{}, true)
}

// HasPriority reports whether ctx was marked by WithPriority.
func HasPriority(ctx context.Context) bool {
	p, _ := ctx.Value(priorityKey{}).(bool)
	return p
}

// Tx is the write side of Store.Update.
type Tx interface {
	Queries
	// AfterCommit registers f to run once the transaction has committed.
	AfterCommit(f func())
}

// Page selects a page of a newest-first listing: up to Limit objects strictly
// older than the object Before (none: from the newest).
type Page struct {
	Before string
	Limit  int
}

// PageOffset is the offset of page number page (from 1) of a listing with
// size objects a page. A page so far out that the offset would overflow is
// past the end of any listing, and gets the largest offset: it lists
// nothing, as any page after the last does.
func PageOffset(page, size int) int {
	if page < 1 || size < 1 {
		return 0
	}
	if page-1 > math.MaxInt/size {
		return math.MaxInt
	}
	return (page - 1) * size
}

// Queries are the reads and writes an engine offers. Reads of a missing
// object return a not_found *Error. Writes are only valid inside Update.
type Queries interface {
	QueueQueries
	CreateApp(ctx context.Context, app *App) error
	App(ctx context.Context, id string) (*App, error)
	Apps(ctx context.Context) ([]*App, error)
	CreateToken(ctx context.Context, t *Token) error
	// TokenByHash returns the token whose secret has the given hash.
	TokenByHash(ctx context.Context, hash string) (*Token, error)
	// Token returns a token of an app by id, or of any app when appID is
	// empty.
	Token(ctx context.Context, appID, id string) (*Token, error)
	// Tokens lists an app's tokens, oldest first. In a write transaction
	// it locks them, so that the caller's decision about them (e.g. "not
	// the last one") holds until it commits.
	Tokens(ctx context.Context, appID string) ([]*Token, error)
	// DeleteToken removes a token of an app, or not_found. It moves the
	// token revision.
	DeleteToken(ctx context.Context, appID, id string) error
	// TouchTokens records when tokens were last used, token id → time: a
	// token's time only ever moves forward, and tokens that are gone are
	// skipped. It does not move the token revision.
	TouchTokens(ctx context.Context, used map[string]time.Time) error
	// TokenRevision returns a number that changes, in the same
	// transaction, with every change that can invalidate a token: a
	// token removed (through DeleteToken or by any other means, such as
	// SQL typed by hand), or its hash or app changed. Nodes that cache
	// validated tokens watch it.
	TokenRevision(ctx context.Context) (int64, error)

	// ClaimJob reports whether the caller is the one to run the named
	// periodic job now, and if so moves its next run to next: of all the
	// nodes sharing a store, one wins each period.
	ClaimJob(ctx context.Context, name string, now, next time.Time) (bool, error)

	// Setting returns a server-wide setting, "" when unset.
	Setting(ctx context.Context, key string) (string, error)
	// InitSetting sets a setting unless it is set, and returns its value:
	// of callers racing on any number of nodes, the first to commit sets it
	// and the others get what it set.
	InitSetting(ctx context.Context, key, value string) (string, error)

	Identity(ctx context.Context, appID, userID string) (*Identity, error)
	// Identities returns the identities that exist among userIDs.
	Identities(ctx context.Context, appID string, userIDs []string) (map[string]*Identity, error)
	PutIdentity(ctx context.Context, id *Identity) error
	DeleteIdentity(ctx context.Context, appID, userID string) error

	CreateConversation(ctx context.Context, c *Conversation, distinctKey string) error
	// Conversation returns a conversation that is not deleted.
	Conversation(ctx context.Context, appID, id string) (*Conversation, error)
	// DistinctConversation returns the live distinct conversation with that
	// participant key, or not_found.
	DistinctConversation(ctx context.Context, appID, distinctKey string) (*Conversation, error)
	// NextMessagePosition takes the position of a new message in a live
	// conversation: it increments the conversation's last position and
	// returns the conversation as it is then, or not_found.
	NextMessagePosition(ctx context.Context, appID, id string) (*Conversation, error)
	// NextMessagePositions takes the positions of n new messages at once:
	// the conversation's last position is then the last of them.
	NextMessagePositions(ctx context.Context, appID, id string, n int) (*Conversation, error)
	// UpdateConversation saves participants, distinct (and its key),
	// metadata, last position and deletion.
	UpdateConversation(ctx context.Context, c *Conversation, distinctKey string) error
	// Conversations lists live conversations, newest first; with userID set,
	// only those the user takes part in.
	Conversations(ctx context.Context, appID, userID string, p Page) ([]*Conversation, error)

	CreateMessage(ctx context.Context, m *Message) error
	// Message returns a message that is not deleted.
	Message(ctx context.Context, appID, id string) (*Message, error)
	UpdateMessage(ctx context.Context, m *Message) error
	HideMessage(ctx context.Context, appID, messageID, userID string, at time.Time) error
	MessageHidden(ctx context.Context, appID, messageID, userID string) (bool, error)
	// Messages lists a conversation's live messages, newest first; with
	// viewer set, without those the viewer deleted for their own devices.
	Messages(ctx context.Context, appID, conversationID, viewer string, p Page) ([]*Message, error)
	// RequestMessage returns the id of the message created under a
	// deduplication key, "" if none.
	RequestMessage(ctx context.Context, appID, key string) (string, error)
	PutRequestMessage(ctx context.Context, appID, key, messageID string, at time.Time) error

	CreateAnnouncement(ctx context.Context, a *Announcement) error
	// AnnouncementByID returns an announcement with every recipient's
	// status.
	AnnouncementByID(ctx context.Context, appID, id string) (*Announcement, error)
	// Announcement returns an announcement as one recipient sees it.
	Announcement(ctx context.Context, appID, id, userID string) (*Announcement, error)
	Announcements(ctx context.Context, appID, userID string, p Page) ([]*Announcement, error)
	SetAnnouncementStatus(ctx context.Context, appID, id, userID, status string) error

	CreateContent(ctx context.Context, c *Content) error
	// ContentUsage returns the bytes of an app's uploaded content, and of
	// its content declared since pendingSince and not uploaded yet. In a
	// write transaction it locks the app against the other writers that
	// count its content or its webhooks (see CountWebhooks), so that a
	// quota checked on the sums holds on any number of nodes.
	ContentUsage(ctx context.Context, appID string, pendingSince time.Time) (uploaded, pending int64, err error)
	Content(ctx context.Context, appID, id string) (*Content, error)
	// ContentByID finds content without knowing its app, for signed URLs.
	// Content, like ContentByID, does not return content of a deleted
	// conversation.
	ContentByID(ctx context.Context, id string) (*Content, error)
	// MarkContentUploaded records the blob of a finished upload, and adds
	// its size to the app's uploaded content. It fails with a conflict if
	// another upload of the content was recorded first.
	MarkContentUploaded(ctx context.Context, appID, id, blobKey string, at time.Time) error
	// DropContent deletes the content of a conversation, uploaded or not,
	// and lists the blobs of the uploaded ones as to be deleted, at the given
	// time (see BlobsToDelete); it returns their keys. An upload of that
	// content finishing later finds none to mark.
	DropContent(ctx context.Context, appID, conversationID string, at time.Time) ([]string, error)
	// BlobsToDelete returns up to limit keys of blobs whose content is gone,
	// in key order, after the key after ("": from the first).
	BlobsToDelete(ctx context.Context, after string, limit int) ([]string, error)
	// ForgetBlobs takes blobs that were deleted off that list.
	ForgetBlobs(ctx context.Context, keys []string) error

	CreateChannel(ctx context.Context, c *Channel) error
	Channel(ctx context.Context, appID, uuid string) (*Channel, error)
	// Channels lists an app's channels, oldest first.
	Channels(ctx context.Context, appID string) ([]*Channel, error)
	// UpdateChannel saves identifier, title and main.
	UpdateChannel(ctx context.Context, c *Channel) error

	// CreateContact adds a contact; a contact with the same address on the
	// same channel is a conflict *Error.
	CreateContact(ctx context.Context, c *Contact) error
	Contact(ctx context.Context, appID, uuid string) (*Contact, error)
	// ContactByAddress finds the contact with that address on a channel.
	ContactByAddress(ctx context.Context, appID, channelUUID, address string) (*Contact, error)
	// UpdateContact saves every field but the UUID, app and
	// creation time.
	UpdateContact(ctx context.Context, c *Contact) error
	DeleteContact(ctx context.Context, appID, uuid string) error
	// Contacts lists an app's contacts, newest first, with the number that
	// match the filter in all.
	Contacts(ctx context.Context, appID string, f ContactFilter, offset, limit int) ([]*Contact, int, error)

	// AppendEvent adds e to the log and sets e.Seq.
	AppendEvent(ctx context.Context, e *Event) error
	// Events lists an app's events in log order, after the given sequence
	// number.
	Events(ctx context.Context, appID string, afterSeq int64, limit int) ([]*Event, error)
	// Event returns one event of an app by id.
	Event(ctx context.Context, appID, id string) (*Event, error)
	// LastEventSeq returns the sequence number of the newest event, 0 when
	// there is none.
	LastEventSeq(ctx context.Context) (int64, error)
	// EventsSince lists every app's events after the given sequence number,
	// in log order.
	EventsSince(ctx context.Context, afterSeq int64, limit int) ([]*Event, error)
	// EventsBetween lists an app's events created in [since, until), after
	// the given sequence number, in log order.
	EventsBetween(ctx context.Context, appID string, since, until time.Time, afterSeq int64, limit int) ([]*Event, error)

	WebhookQueries
	WebhookAdminQueries
	PartQueries
	GoneQueries
	UnboundContentQueries
	UserQueries
	ExportQueries
	InboxQueries
	ContentUploadQueries
	ProxyQueries
	PushQueries
	ConnectorQueries
	PresenceQueries
	SessionQueries
	FanOutQueries
	ListingQueries
	FollowedQueries
	AgentQueries
	CRMQueries
	TemplateQueries
}

// WebhookQueries are the reads and writes of webhooks and their deliveries.
type WebhookQueries interface {
	CreateWebhook(ctx context.Context, w *Webhook) error
	Webhook(ctx context.Context, appID, id string) (*Webhook, error)
	// Webhooks lists an app's webhooks; every app's when appID is empty.
	Webhooks(ctx context.Context, appID string) ([]*Webhook, error)
	// ListWebhooks lists a page of an app's webhooks, newest first (in the
	// order of their ids).
	ListWebhooks(ctx context.Context, appID string, p Page) ([]*Webhook, error)
	// CountWebhooks counts an app's webhooks. In a write transaction it
	// locks the app against the other writers that count its webhooks or
	// its content (see ContentUsage), so that a limit checked on the count
	// holds on any number of nodes.
	CountWebhooks(ctx context.Context, appID string) (int, error)
	// WebhooksByID returns those of the webhooks with the given ids, of any
	// app, that exist.
	WebhooksByID(ctx context.Context, ids []string) ([]*Webhook, error)
	// UpdateWebhook saves target URL, events, config, status, status reason,
	// health check times and update time; not the keys (see
	// UpdateWebhookKeys), so that no status change made from an older copy
	// of the webhook undoes a rotation.
	UpdateWebhook(ctx context.Context, w *Webhook) error
	// UpdateWebhookKeys saves a webhook's keys (Secret, SigningKey,
	// AsymmetricKey, the previous keys and PreviousKeysUntil) and its
	// update time.
	UpdateWebhookKeys(ctx context.Context, w *Webhook) error
	// DropExpiredWebhookKeys forgets the keys that rotations replaced whose
	// grace period ended at or before now, and returns how many webhooks
	// it changed.
	DropExpiredWebhookKeys(ctx context.Context, now time.Time) (int, error)
	// AdvanceWebhookCursor moves a webhook's cursor from one sequence
	// number to another and reports whether it did: false when the webhook
	// is gone or its cursor is no longer at from, so that no event is turned
	// into deliveries twice, whoever else advances cursors.
	AdvanceWebhookCursor(ctx context.Context, id string, from, to int64) (bool, error)
	// MarkWebhookDeleted makes a webhook gone at once for every read and
	// write of webhooks (and its deliveries unclaimable), while its rows
	// are removed in steps: DeleteWebhookDeliveries, then DeleteWebhook.
	// DeletedWebhooks lists the webhooks so marked.
	MarkWebhookDeleted(ctx context.Context, appID, id string) error
	DeletedWebhooks(ctx context.Context) ([]*Webhook, error)
	// DeleteWebhook removes a webhook, marked deleted or not, with its
	// deliveries and attempts.
	DeleteWebhook(ctx context.Context, appID, id string) error
	// DeleteWebhookDeliveries removes up to limit of a webhook's
	// deliveries, whatever their status, with their attempts, and returns
	// how many it removed.
	DeleteWebhookDeliveries(ctx context.Context, webhookID string, limit int) (int, error)

	// CreateDeliveries adds deliveries, each webhook's in event order,
	// holding each one that has an unfinished predecessor with the same
	// webhook and ordering key. Deliveries with the same PayloadID share
	// one stored body, the first one's. A delivery given a lease (LeaseOwner and LeaseUntil) is created
	// claimed by that node, as ClaimDeliveries would leave it, unless it is
	// held: then its lease is dropped, on the Delivery too.
	CreateDeliveries(ctx context.Context, ds []*Delivery) error
	// ClaimDeliveries leases up to limit due deliveries of active webhooks
	// to a node until leaseUntil: pending, not held, not leased, next
	// attempt come, earliest first, within caps: those of an app or a
	// webhook past its cap are left for a later claim, and those of an app
	// or a webhook capped at 0 are passed over without delaying the
	// others'. Several nodes may claim at once; each delivery goes to one
	// of them.
	ClaimDeliveries(ctx context.Context, node string, now, leaseUntil time.Time, limit int, caps ClaimCaps) ([]*Delivery, error)
	// ReturnDeliveries gives back deliveries leased to node that it will
	// not attempt: they are pending, unleased and due at now, for any node
	// to claim, as if never claimed. Those no longer leased to node are
	// left as they are.
	ReturnDeliveries(ctx context.Context, node string, ids []string, now time.Time) error
	// CompleteDeliveries saves the outcome of attempts, each of a different
	// delivery: the delivery's status, attempts, next attempt, last status
	// code and error and delivered time; it records the attempt (setting
	// its ID) and releases the lease; a completed delivery is no longer
	// held (a held one sent after the queue's head, see HeldDeliveries,
	// becomes the queue's head if it is to be retried). Once every outcome
	// is recorded, each queue with a delivered delivery and no free one
	// left releases its next held delivery; released counts those. Of these,
	// up to lease.Limit (and lease.Webhooks, when set) that are pending,
	// due at lease.Now and of an active webhook are leased to lease.Node as
	// ClaimDeliveries would, and returned. Deliveries deleted meanwhile
	// (with their webhook) are skipped.
	CompleteDeliveries(ctx context.Context, cs []Completion, lease Lease) (leased []*Delivery, released int, err error)
	// HeldDeliveries returns up to limit of the pending deliveries held in
	// a queue (a webhook's deliveries of one ordering key) after the event
	// afterSeq, in event order: those that wait, one behind the other, for
	// the one in flight. The node whose worker holds the queue's head may
	// send them in turn, each after the previous one was answered 2xx, and
	// record them all afterwards (see CompleteDeliveries): no other node
	// may send a held delivery.
	HeldDeliveries(ctx context.Context, webhookID, orderingKey string, afterSeq int64, limit int) ([]*Delivery, error)
	// ReleaseLeases makes every leased delivery claimable again at now: for
	// a node that knows it is the only one on its store.
	ReleaseLeases(ctx context.Context, now time.Time) error
	// Heartbeat records that a node is alive at now.
	Heartbeat(ctx context.Context, node string, now time.Time) error
	// RecoverLeases makes the deliveries leased by nodes not heard from
	// since deadBefore claimable again at now, forgets those nodes, and
	// returns how many deliveries it released.
	RecoverLeases(ctx context.Context, now, deadBefore time.Time) (int, error)
	// RequeueDeliveries makes a webhook's failed deliveries, and its
	// pending ones waiting for a retry, pending and due at once, with their
	// attempts counted from zero: the receiver is back, the backlog goes.
	RequeueDeliveries(ctx context.Context, webhookID string, now time.Time) error
	// QueuedEvents returns which of the events a webhook has an
	// unfinished (pending or failed) delivery of, by sequence number. Each
	// event comes with its ordering key, under which the delivery is
	// queued: the lookup is one index probe per event, whatever the
	// webhook's backlog.
	QueuedEvents(ctx context.Context, webhookID string, events []QueuedEvent) (map[int64]bool, error)
	// CountUnfinishedDeliveries counts a webhook's unfinished (pending or
	// failed) deliveries, up to limit.
	CountUnfinishedDeliveries(ctx context.Context, webhookID string, limit int) (int, error)
	// DropUnfinishedDeliveries removes up to limit of a webhook's
	// unfinished deliveries that no node holds, with their attempts, and
	// returns how many it removed. Each queue loses its latest deliveries
	// first, so that what a partial run leaves of a queue is its head and
	// the deliveries next in line, never a held delivery without the one
	// that would release it.
	DropUnfinishedDeliveries(ctx context.Context, webhookID string, limit int) (int, error)
	// ResendDelivery makes one delivery pending again, due at once.
	ResendDelivery(ctx context.Context, d *Delivery, now time.Time) error
	Delivery(ctx context.Context, appID, id string) (*Delivery, error)
	// Deliveries lists a webhook's deliveries, newest first, optionally of
	// one status.
	Deliveries(ctx context.Context, webhookID, status string, p Page) ([]*Delivery, error)
	Attempts(ctx context.Context, deliveryID string) ([]*Attempt, error)
	// PruneDeliveries removes up to limit deliveries delivered before
	// before, with their attempts, and returns how many it removed.
	PruneDeliveries(ctx context.Context, before time.Time, limit int) (int, error)
	// PruneEvents removes up to limit events created before before that
	// every webhook has already turned into deliveries, and returns how
	// many it removed.
	PruneEvents(ctx context.Context, before time.Time, limit int) (int, error)
	// WebhookEvents lists a webhook's attempted deliveries, newest first,
	// each with its last attempt, and the number that match in all.
	WebhookEvents(ctx context.Context, webhookID string, f WebhookEventFilter, offset, limit int) ([]*WebhookEvent, int, error)
}

// QueuedEvent names an event to QueuedEvents: its sequence number, and
// the ordering key its deliveries are queued under.
type QueuedEvent struct {
	Seq         int64
	OrderingKey string
}

// ContactFilter selects contacts. Empty members select everything.
type ContactFilter struct {
	Source string
	// Tags keeps contacts with every one of these tags, compared without
	// regard to case.
	Tags []string
	// TeamUUID keeps the contacts of a team.
	TeamUUID string
	// AssignedUser keeps the contacts assigned to this email.
	AssignedUser string
}

// BlobStore keeps rich-content bytes. The default keeps them on the local
// filesystem; an S3-compatible store can implement the same interface.
type BlobStore interface {
	// Put stores exactly size bytes read from r under key, replacing any
	// earlier blob. Fewer or more bytes are an upload_mismatch *Error and
	// leave nothing stored.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Open returns the blob's bytes, or a not_found *Error.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
}

// A Change is a kind of committed change that a shared store announces to
// every node.
type Change int

const (
	// EventsAppended: there are new events to turn into deliveries.
	EventsAppended Change = iota + 1
	// DeliveriesDue: deliveries were created or became claimable.
	DeliveriesDue
)

// ForeignWrites is implemented by a Store that belongs to one node but that
// other processes may write to as well (SQLite: the command line's
// operations on a running server's data). ForeignWrites counts the times
// the store found, as its node began a write, that another process had
// committed since the node's last write: what the node keeps in memory of
// the stored data holds only while the count stays the same, and for the
// little while another process's write goes unseen until the node's next.
type ForeignWrites interface {
	ForeignWrites() uint64
}

// A SharedStore is a Store that several nodes use at once (PostgreSQL). It
// tells every node about the changes any of them committed, so that work is
// picked up at once rather than at the next poll. A Store that is not
// shared belongs to one node: what that node left leased when it stopped is
// a leftover of its previous run.
type SharedStore interface {
	Store
	// Watch calls f, from one goroutine, for each change committed by any
	// node, this one included; changes close together may be announced
	// once.
	Watch(f func(Change))
}
