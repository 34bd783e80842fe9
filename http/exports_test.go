package http_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/messaging"
)

// The RSA key of the export tests: generating one costs tens of
// milliseconds, and any 2048-bit key will do.
var exportKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// exportPublicPEM is the PEM of exportKey's public half, as `openssl rsa
// -pubout` writes it.
var exportPublicPEM = sync.OnceValue(func() string {
	der, err := x509.MarshalPKIXPublicKey(&exportKey().PublicKey)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
})

// startExports runs an export runner beside the API, polling often; it
// stops before the API does.
func startExports(t *testing.T, a *api) *messaging.ExportRunner {
	r := &messaging.ExportRunner{Service: a.Service, URLs: a.Server.URLs, Dir: t.TempDir(),
		Poll: 20 * time.Millisecond, Lease: time.Second}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// openArchive decrypts and unpacks an export archive as Layer's docs and
// GetStream/layer-migration's readme do it: the AES key is the base64
// encrypted_aes_key decrypted with the private key (openssl rsautl
// -decrypt: PKCS #1 v1.5), the IV the base64 aes_iv, the archive
// AES-256-CBC (openssl enc -d -aes-256-cbc: PKCS #7 padding), then a
// gzipped tarball (tar -xzf) holding export.json. It returns that file's
// records.
func openArchive(t *testing.T, archive []byte, encryptedKey, iv string) []map[string]any {
	t.Helper()
	wrapped, err := base64.StdEncoding.DecodeString(encryptedKey)
	if err != nil {
		t.Fatalf("encrypted_aes_key %q: %v", encryptedKey, err)
	}
	key, err := rsa.DecryptPKCS1v15(nil, exportKey(), wrapped)
	if err != nil || len(key) != 32 {
		t.Fatalf("the AES key: %d bytes, %v", len(key), err)
	}
	ivb, err := base64.StdEncoding.DecodeString(iv)
	if err != nil || len(ivb) != aes.BlockSize {
		t.Fatalf("aes_iv %q: %v", iv, err)
	}
	if len(archive) == 0 || len(archive)%aes.BlockSize != 0 {
		t.Fatalf("the archive has %d bytes, not whole AES blocks", len(archive))
	}
	block, _ := aes.NewCipher(key)
	plain := make([]byte, len(archive))
	cipher.NewCBCDecrypter(block, ivb).CryptBlocks(plain, archive)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > aes.BlockSize || !bytes.Equal(plain[len(plain)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		t.Fatalf("the archive's padding is not PKCS #7: %x", plain[len(plain)-aes.BlockSize:])
	}
	zr, err := gzip.NewReader(bytes.NewReader(plain[:len(plain)-pad]))
	if err != nil {
		t.Fatalf("the decrypted archive is not gzip: %v", err)
	}
	tr := tar.NewReader(zr)
	var records []map[string]any
	files := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files++
		if hdr.Name != "export.json" {
			t.Fatalf("the tarball holds %q; want export.json alone", hdr.Name)
		}
		if err := json.NewDecoder(tr).Decode(&records); err != nil {
			t.Fatalf("export.json: %v", err)
		}
	}
	if files != 1 {
		t.Fatalf("the tarball holds %d files, want export.json alone", files)
	}
	return records
}

// waitExport polls an export until it is no longer pending or executing.
func waitExport(t *testing.T, a *api, id string) *herald.Export {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		x, err := a.Service.Export(context.Background(), a.AppID, id)
		if err != nil {
			t.Fatal(err)
		}
		if x.Status != herald.ExportPending && x.Status != herald.ExportExecuting {
			return x
		}
		if time.Now().After(deadline) {
			t.Fatalf("export %s still %s after 20s", id, x.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exportFixture is what the export tests write: conversations and messages,
// some deleted, and the same in another app.
type exportFixture struct {
	// want maps each live conversation to its live messages' bodies, in
	// order; convs lists the live conversations in creation order.
	convs []string
	want  map[string][]string
}

func writeExportFixture(t *testing.T, a *api) *exportFixture {
	t.Helper()
	ctx := context.Background()
	svc := a.Service
	name := "Alice"
	if _, _, err := svc.PutIdentity(ctx, a.AppID, "alice", messaging.IdentityInput{DisplayName: &name}, messaging.IdentityReplace); err != nil {
		t.Fatal(err)
	}
	f := &exportFixture{want: map[string][]string{}}
	no := false
	for i, participants := range [][]string{{"alice", "bob"}, {"bob", "carol"}, {"alice", "carol"}} {
		c, _, err := svc.CreateConversation(ctx, a.AppID, nil, messaging.ConversationInput{Participants: participants, Distinct: &no,
			Metadata: json.RawMessage(`{"n":"` + string(rune('a'+i)) + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for j := range 4 {
			body := c.ID + "/" + string(rune('0'+j))
			m, _, err := svc.SendMessage(ctx, a.AppID, c.ID, messaging.MessageInput{Sender: herald.Sender{UserID: participants[j%2]},
				Parts: []messaging.PartInput{{MimeType: "text/plain", Body: &body}}}, "")
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
			f.want[c.ID] = append(f.want[c.ID], body)
		}
		// One message deleted everywhere: it is not part of the state.
		if err := svc.DeleteMessage(ctx, a.AppID, c.ID, ids[1], nil); err != nil {
			t.Fatal(err)
		}
		f.want[c.ID] = slices.Delete(f.want[c.ID], 1, 2)
		f.convs = append(f.convs, c.ID)
	}
	// A deleted conversation is not either.
	if err := svc.DeleteConversation(ctx, a.AppID, f.convs[1], nil); err != nil {
		t.Fatal(err)
	}
	delete(f.want, f.convs[1])
	f.convs = slices.Delete(f.convs, 1, 2)
	// Nor is another app's data.
	other, _ := a.newApp("other")
	body := "not exported"
	c, _, err := svc.CreateConversation(ctx, other, nil, messaging.ConversationInput{Participants: []string{"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.SendMessage(ctx, other, c.ID, messaging.MessageInput{Sender: herald.Sender{UserID: "alice"},
		Parts: []messaging.PartInput{{MimeType: "text/plain", Body: &body}}}, ""); err != nil {
		t.Fatal(err)
	}
	return f
}

// checkHistorical checks the records of a historical export against the
// fixture: each live conversation, in order, followed by its live
// messages, in order, as Layer 2.0 webhook payloads.
func checkHistorical(t *testing.T, a *api, f *exportFixture, records []map[string]any) {
	t.Helper()
	var convs []string
	got := map[string][]string{}
	current := ""
	for _, r := range records {
		event, _ := r["event"].(map[string]any)
		switch event["type"] {
		case "conversation.created":
			c := r["conversation"].(map[string]any)
			current = localID(c["id"])
			convs = append(convs, current)
			if c["url"] != a.URL+"/apps/"+a.AppID+"/conversations/"+current {
				t.Errorf("conversation url %v", c["url"])
			}
			if ps, _ := c["participants"].([]any); len(ps) != 2 {
				t.Errorf("conversation %s participants %v", current, c["participants"])
			}
		case "message.sent":
			m := r["message"].(map[string]any)
			conv := localID(m["conversation"].(map[string]any)["id"])
			if conv != current {
				t.Errorf("message of %s after conversation %s's record", conv, current)
			}
			parts := m["parts"].([]any)
			got[conv] = append(got[conv], parts[0].(map[string]any)["body"].(string))
			sender := m["sender"].(map[string]any)
			if sender["user_id"] == "alice" && sender["display_name"] != "Alice" {
				t.Errorf("sender %v: want a Basic Identity with Alice's display name", sender)
			}
		default:
			t.Errorf("record of type %v: %v", event["type"], r)
		}
		if event["id"] == "" || event["created_at"] == "" {
			t.Errorf("record's event %v", event)
		}
	}
	if !slices.Equal(convs, f.convs) {
		t.Errorf("conversations exported %v, want %v", convs, f.convs)
	}
	for c, want := range f.want {
		if !slices.Equal(got[c], want) {
			t.Errorf("messages of %s exported %v, want %v", c, got[c], want)
		}
	}
}

// TestExportLifecycleThroughTheService registers a key, requests a
// historical export on each engine, lets the runner write it, and reads the
// archive back as a Layer customer would.
func TestExportLifecycleThroughTheService(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		ctx := context.Background()
		svc := a.Service
		f := writeExportFixture(t, a)

		_, err := svc.RequestExport(ctx, a.AppID)
		wantServiceError(t, err, herald.EInvalidOperation, "public_key")
		_, err = svc.PutExportKey(ctx, a.AppID, "-----BEGIN PUBLIC KEY-----garbage-----END PUBLIC KEY-----")
		wantServiceError(t, err, herald.EInvalidProperty, "public_key")
		_, err = svc.PutExportKey(ctx, a.AppID, "")
		wantServiceError(t, err, herald.EMissingProperty, "public_key")
		_, err = svc.ExportKey(ctx, a.AppID)
		wantServiceError(t, err, herald.ENotFound, "")

		k, err := svc.PutExportKey(ctx, a.AppID, exportPublicPEM())
		if err != nil {
			t.Fatal(err)
		}
		x, err := svc.RequestExport(ctx, a.AppID)
		if err != nil {
			t.Fatal(err)
		}
		if x.Status != herald.ExportPending || x.Type != herald.ExportHistorical || x.PublicKey != k.PublicKey {
			t.Fatalf("requested export: %+v", x)
		}
		_, err = svc.RequestExport(ctx, a.AppID)
		wantServiceError(t, err, herald.EConflict, "")

		startExports(t, a)
		x = waitExport(t, a, herald.ExportIDPrefix+x.ID)
		if x.Status != herald.ExportCompleted || x.StartedAt == nil || x.CompletedAt == nil || x.ExpiresAt == nil {
			t.Fatalf("finished export: %+v", x)
		}
		r, err := svc.OpenExport(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		archive, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(archive)) != x.Size {
			t.Fatalf("archive of %d bytes, export says %d", len(archive), x.Size)
		}
		checkHistorical(t, a, f, openArchive(t, archive, x.EncryptedAESKey, x.AESIV))

		if err := svc.DeleteExport(ctx, a.AppID, x.ID); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Export(ctx, a.AppID, x.ID)
		wantServiceError(t, err, herald.ENotFound, "")
		if _, err := a.Service.Blobs.Open(ctx, x.BlobKey); !herald.IsNotFound(err) {
			t.Fatalf("the archive of a deleted export: %v, want not_found", err)
		}
		wantServiceError(t, svc.DeleteExport(ctx, a.AppID, x.ID), herald.ENotFound, "")

		// A completed export is pruned, archive and all, once its time is
		// up.
		x, err = svc.RequestExport(ctx, a.AppID)
		if err != nil {
			t.Fatal(err)
		}
		x = waitExport(t, a, x.ID)
		if err := svc.PruneExports(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Export(ctx, a.AppID, x.ID); err != nil {
			t.Fatalf("export pruned before its time: %v", err)
		}
		a.setClock(x.ExpiresAt.Sub(time.Now()) + time.Second)
		if err := svc.PruneExports(ctx); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Export(ctx, a.AppID, x.ID)
		wantServiceError(t, err, herald.ENotFound, "")
		if _, err := a.Service.Blobs.Open(ctx, x.BlobKey); !herald.IsNotFound(err) {
			t.Fatalf("the archive of a pruned export: %v, want not_found", err)
		}

		// Each change is an event of the app's log.
		var types []string
		for _, e := range a.events() {
			if typ, _ := e["type"].(string); strings.HasPrefix(typ, "export") {
				types = append(types, typ)
			}
		}
		want := []string{"export_security.updated", "export.created", "export.completed", "export.deleted",
			"export.created", "export.completed", "export.deleted"}
		if !slices.Equal(types, want) {
			t.Errorf("export events %v, want %v", types, want)
		}
	})
}

// TestExportThatCannotBeWritten checks that an export whose archive cannot
// be written ends failed, saying why, rather than pending forever.
func TestExportThatCannotBeWritten(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		x := &herald.Export{ID: messaging.NewID(), AppID: a.AppID, Type: herald.ExportHistorical, Status: herald.ExportPending,
			PublicKey: "-----BEGIN PUBLIC KEY-----\nbroken\n-----END PUBLIC KEY-----\n", CreatedAt: now}
		if err := a.Store.Update(ctx, func(tx herald.Tx) error { return tx.CreateExport(ctx, x) }); err != nil {
			t.Fatal(err)
		}
		startExports(t, a)
		done := waitExport(t, a, x.ID)
		if done.Status != herald.ExportFailed || !strings.Contains(done.Error, "public key") || done.BlobKey != "" {
			t.Fatalf("export with a broken key: %+v", done)
		}
		if _, err := a.Service.OpenExport(ctx, done); !herald.IsNotFound(err) {
			t.Fatalf("opening a failed export: %v", err)
		}
	})
}

func wantServiceError(t *testing.T, err error, id herald.ErrorID, property string) {
	t.Helper()
	var e *herald.Error
	if !errors.As(err, &e) || e.ID != id {
		t.Fatalf("err = %v, want %s", err, id)
	}
	if property != "" && e.Data["property"] != property {
		t.Fatalf("err %v names %v, want property %s", e, e.Data["property"], property)
	}
}

// TestExportTakenOverFromAStoppedRunner leaves an export leased to a runner
// that stopped, as a crash or a restart leaves it: another runner writes it
// once the lease has run out.
func TestExportTakenOverFromAStoppedRunner(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		ctx := context.Background()
		f := writeExportFixture(t, a)
		if _, err := a.Service.PutExportKey(ctx, a.AppID, exportPublicPEM()); err != nil {
			t.Fatal(err)
		}
		x, err := a.Service.RequestExport(ctx, a.AppID)
		if err != nil {
			t.Fatal(err)
		}
		err = a.Store.Update(ctx, func(tx herald.Tx) error {
			now := time.Now()
			claimed, err := tx.ClaimExport(ctx, "crashed node", now, now.Add(300*time.Millisecond))
			if err == nil && (claimed == nil || claimed.ID != x.ID) {
				t.Errorf("claimed %+v", claimed)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		startExports(t, a)
		done := waitExport(t, a, x.ID)
		if done.Status != herald.ExportCompleted {
			t.Fatalf("export taken over: %+v", done)
		}
		r, err := a.Service.OpenExport(ctx, done)
		if err != nil {
			t.Fatal(err)
		}
		archive, _ := io.ReadAll(r)
		r.Close()
		checkHistorical(t, a, f, openArchive(t, archive, done.EncryptedAESKey, done.AESIV))
	})
}

// TestScheduledExport sets a daily schedule, lets a day pass, and checks
// that the scheduled export holds the events of that day of the types
// chosen, and that the next one starts where it ended.
func TestScheduledExport(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		ctx := context.Background()
		svc := a.Service
		if _, err := svc.PutExportKey(ctx, a.AppID, exportPublicPEM()); err != nil {
			t.Fatal(err)
		}
		_, err := svc.PutExportSchedule(ctx, a.AppID, "weekly", nil)
		wantServiceError(t, err, herald.EInvalidProperty, "interval")
		_, err = svc.PutExportSchedule(ctx, a.AppID, herald.ExportDaily, []string{"message.sent", "identity.created"})
		wantServiceError(t, err, herald.EInvalidProperty, "events")
		sc, err := svc.PutExportSchedule(ctx, a.AppID, herald.ExportDaily, []string{"message.sent", "conversation.created"})
		if err != nil {
			t.Fatal(err)
		}
		if sc.NextExportAt == nil || sc.NextExportAt.Sub(time.Now()) < 23*time.Hour {
			t.Fatalf("schedule: %+v, want the next export in a day", sc)
		}
		f := writeExportFixture(t, a)
		if err := svc.ScheduleExports(ctx); err != nil {
			t.Fatal(err)
		}
		if xs, err := svc.Exports(ctx, a.AppID, herald.Page{Limit: 10}); err != nil || len(xs) != 0 {
			t.Fatalf("exports before the schedule is due: %v, %v", xs, err)
		}
		a.setClock(25 * time.Hour)
		if err := svc.ScheduleExports(ctx); err != nil {
			t.Fatal(err)
		}
		xs, err := svc.Exports(ctx, a.AppID, herald.Page{Limit: 10})
		if err != nil || len(xs) != 1 || xs[0].Type != herald.ExportScheduled {
			t.Fatalf("exports once the schedule is due: %v, %v", xs, err)
		}
		sc, err = svc.ExportSchedule(ctx, a.AppID)
		if err != nil {
			t.Fatal(err)
		}
		if sc.LastExportID != xs[0].ID || sc.LastExportAt == nil || !sc.LastExportAt.Equal(*xs[0].Until) ||
			sc.NextExportAt.Sub(time.Now()) < 47*time.Hour {
			t.Fatalf("schedule after its export: %+v", sc)
		}
		startExports(t, a)
		x := waitExport(t, a, xs[0].ID)
		if x.Status != herald.ExportCompleted {
			t.Fatalf("scheduled export: %+v", x)
		}
		r, err := svc.OpenExport(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		archive, _ := io.ReadAll(r)
		r.Close()
		records := openArchive(t, archive, x.EncryptedAESKey, x.AESIV)
		// Every conversation.created and message.sent of the day, deleted
		// ones included: the events happened.
		sent, created := 0, 0
		for _, r := range records {
			switch r["event"].(map[string]any)["type"] {
			case "message.sent":
				sent++
			case "conversation.created":
				created++
			default:
				t.Errorf("record %v of a type the schedule leaves out", r)
			}
		}
		if created != 3 || sent != 12 {
			t.Errorf("scheduled export has %d conversation.created and %d message.sent records, want 3 and 12 (%d live conversations)",
				created, sent, len(f.convs))
		}
	})
}

// completedExport registers the test key, requests a historical export and
// has it written at once, by a runner of its own; it returns the export's
// id and download URL.
func (a *api) completedExport(t *testing.T) (id, downloadURL string) {
	t.Helper()
	a.do("PUT", "/export_security", map[string]any{"public_key": exportPublicPEM()}).must(t, 200)
	id = a.do("POST", "/exports", nil).must(t, 202).Map(t)["id"].(string)
	r := &messaging.ExportRunner{Service: a.Service, URLs: a.Server.URLs, Dir: t.TempDir()}
	if ran, err := r.RunOne(context.Background()); err != nil || !ran {
		t.Fatalf("writing the export: ran %v, %v", ran, err)
	}
	x := a.do("GET", "/exports/"+id+"/status", nil).must(t, 200).Map(t)
	if x["status"] != "completed" {
		t.Fatalf("export written: %v", x)
	}
	return id, x["download_url"].(string)
}

// The export objects of Layer's docs carry these fields, null until the
// export has them (platform/data/export.md, "Managing Exports").
var exportFields = []string{"aes_iv", "completed_at", "created_at", "download_url", "download_url_expires_at",
	"encrypted_aes_key", "expired_at", "id", "public_key", "started_at", "status", "status_url", "type"}

func checkExportObject(t *testing.T, a *api, x map[string]any) {
	t.Helper()
	for _, f := range exportFields {
		if _, ok := x[f]; !ok {
			t.Fatalf("export without %s: %v", f, x)
		}
	}
	id := x["id"].(string)
	if x["status_url"] != a.URL+"/apps/"+a.AppID+"/exports/"+id+"/status" || x["type"] != "historical" {
		t.Fatalf("export %v", x)
	}
	done := x["status"] == "completed"
	for _, f := range []string{"aes_iv", "completed_at", "download_url", "download_url_expires_at", "encrypted_aes_key", "expired_at"} {
		if (x[f] != nil) != done {
			t.Fatalf("export %s has %s = %v", x["status"], f, x[f])
		}
	}
}

// TestExportsThroughLayersAPI drives every export endpoint as
// GetStream/layer-migration does (Server API 3.0), and as a 1.1 client does:
// register the key, request an export, poll its status, download the
// archive from its download_url without a token and decrypt it, delete it.
// Exports name no user, so every version shows them alike.
func TestExportsThroughLayersAPI(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		f := writeExportFixture(t, a)
		v11 := []string{"Accept", "application/vnd.layer+json; version=1.1"}
		v30 := []string{"Accept", "application/vnd.layer+json; version=3.0"}

		// Nothing is set up yet.
		a.do("GET", "/export_security", nil, v30...).wantError(t, 404, "not_found", "")
		a.do("POST", "/exports", map[string]any{}, v30...).wantError(t, 422, "invalid_operation", "public_key")
		a.do("GET", "/exports/"+messaging.NewID()+"/status", nil, v30...).wantError(t, 404, "not_found", "")
		a.do("DELETE", "/exports/"+messaging.NewID(), nil, v30...).wantError(t, 404, "not_found", "")
		a.do("PUT", "/export_security", map[string]any{"public_key": "-----BEGIN PUBLIC KEY-----MII...-----END PUBLIC KEY-----"}, v30...).
			wantError(t, 422, "invalid_property", "public_key")
		a.do("PUT", "/export_security", map[string]any{}, v30...).wantError(t, 422, "missing_property", "public_key")
		// A version Herald does not serve is refused whatever the route
		// (the status is layerapi's to choose for every route alike).
		bad := a.do("PUT", "/export_security", map[string]any{"public_key": exportPublicPEM()}, "Accept", "application/vnd.layer+json; version=4.0")
		if bad.Status/100 != 4 || bad.Map(t)["id"] != "invalid_header" {
			t.Fatalf("version 4.0: %d %s", bad.Status, bad.Body)
		}
		var list []map[string]any
		a.do("GET", "/exports", nil, v30...).must(t, 200).JSON(t, &list)
		if len(list) != 0 {
			t.Fatalf("exports before any: %v", list)
		}

		// The key as layer-migration sends it: the .pub file `openssl rsa
		// -pubout` wrote.
		key := a.do("PUT", "/export_security", map[string]any{"public_key": exportPublicPEM()}, v30...).must(t, 200).Map(t)
		if key["public_key"] != exportPublicPEM() {
			t.Fatalf("registered key %v", key)
		}
		for _, v := range [][]string{v11, v30} {
			if got := a.do("GET", "/export_security", nil, v...).must(t, 200).Map(t); got["public_key"] != exportPublicPEM() {
				t.Fatalf("key in %s: %v", v[1], got)
			}
		}
		x := a.do("POST", "/exports", map[string]any{}, v30...).must(t, 202).Map(t)
		checkExportObject(t, a, x)
		if x["status"] != "pending" || x["public_key"] != exportPublicPEM() {
			t.Fatalf("requested export %v", x)
		}
		id := x["id"].(string)
		a.do("POST", "/exports", nil, v11...).wantError(t, 409, "conflict", "")
		if st := a.do("GET", "/exports/"+id+"/status", nil, v30...).must(t, 202).Map(t); st["status"] != "pending" {
			t.Fatalf("status before any runner: %v", st)
		}

		startExports(t, a)
		deadline := time.Now().Add(20 * time.Second)
		var st map[string]any
		for {
			res := a.do("GET", "/exports/"+id+"/status", nil, v30...)
			st = res.Map(t)
			if st["status"] == "completed" {
				res.must(t, 200)
				break
			}
			res.must(t, 202)
			if time.Now().After(deadline) {
				t.Fatalf("export still %v after 20s", st["status"])
			}
			time.Sleep(20 * time.Millisecond)
		}
		checkExportObject(t, a, st)
		// The same export in 1.1, through the status URL itself and the
		// listing layer-migration's status command reads.
		a.freeze(time.Now())
		byURL := a.do("GET", st["status_url"].(string), nil, v11...).must(t, 200).Map(t)
		a.do("GET", "/exports", nil, v30...).must(t, 200).JSON(t, &list)
		if len(list) != 1 || jsonOf(t, list[0]) != jsonOf(t, byURL) {
			t.Fatalf("listing %v; status %v: want the same export", list, byURL)
		}
		a.do("GET", "/exports/"+url.PathEscape(herald.ExportIDPrefix+id)+"/status", nil, v30...).must(t, 200)

		// The download needs no token, only the signed URL.
		download := byURL["download_url"].(string)
		res := a.doAs("", "GET", download, nil)
		res.must(t, 200)
		if res.Header.Get("Content-Type") != "application/octet-stream" ||
			!strings.Contains(res.Header.Get("Content-Disposition"), id+".tar.gz.enc") {
			t.Fatalf("download headers %v", res.Header)
		}
		checkHistorical(t, a, f, openArchive(t, res.Body, byURL["encrypted_aes_key"].(string), byURL["aes_iv"].(string)))
		a.doAs("", "GET", strings.Replace(download, "signature=", "signature=00", 1), nil).wantError(t, 403, "access_denied", "")
		a.doAs("", "GET", strings.Replace(download, id, messaging.NewID(), 1), nil).wantError(t, 403, "access_denied", "")
		a.setClock(2 * time.Hour)
		a.doAs("", "GET", download, nil).wantError(t, 403, "url_expired", "")
		// Each rendering signs a fresh URL.
		fresh := a.do("GET", "/exports/"+id+"/status", nil, v30...).must(t, 200).Map(t)["download_url"].(string)
		a.doAs("", "GET", fresh, nil).must(t, 200)

		a.do("DELETE", "/exports/"+id, nil, v30...).must(t, 204)
		a.do("GET", "/exports/"+id+"/status", nil, v30...).wantError(t, 404, "not_found", "")
		a.doAs("", "GET", fresh, nil).wantError(t, 404, "not_found", "")
		a.do("DELETE", "/exports/"+id, nil, v30...).wantError(t, 404, "not_found", "")
		// Another app sees none of it.
		_, other := a.newApp("other app")
		a.doAs(other, "GET", a.URL+"/apps/"+a.AppID+"/export_security", nil).wantError(t, 404, "not_found", "")
	})
}

// TestExportScheduleThroughLayersAPI sets and reads the schedule as Layer's
// docs show it.
func TestExportScheduleThroughLayersAPI(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		off := a.do("GET", "/export_schedule", nil).must(t, 200).Map(t)
		if off["interval"] != "disabled" || off["next_export_at"] != nil || off["last_export_at"] != nil || off["last_export_id"] != nil {
			t.Fatalf("schedule never set: %v", off)
		}
		a.do("PUT", "/export_schedule", map[string]any{"interval": "hourly"}).wantError(t, 422, "invalid_property", "interval")
		a.do("PUT", "/export_schedule", map[string]any{"events": []any{"message.sent"}}).wantError(t, 422, "missing_property", "interval")
		a.do("PUT", "/export_schedule", map[string]any{"interval": "daily", "events": []any{"message.sent", "identity.created"}}).
			wantError(t, 422, "invalid_property", "events")
		// Layer's example: every event.
		all := []any{"message.sent", "message.delivered", "message.read", "message.deleted", "conversation.created",
			"conversation.updated.participants", "conversation.updated.metadata", "conversation.deleted"}
		for _, v := range []string{"1.1", "3.0"} {
			sc := a.do("PUT", "/export_schedule", map[string]any{"interval": "daily", "events": all},
				"Accept", "application/vnd.layer+json; version="+v).must(t, 200).Map(t)
			next, err := time.Parse(time.RFC3339, sc["next_export_at"].(string))
			if err != nil || next.Sub(time.Now()) < 23*time.Hour || sc["interval"] != "daily" || len(sc["events"].([]any)) != len(all) {
				t.Fatalf("schedule in %s: %v", v, sc)
			}
			if got := a.do("GET", "/export_schedule", nil).must(t, 200).Map(t); jsonOf(t, got) != jsonOf(t, sc) {
				t.Fatalf("schedule read back %v, set %v", got, sc)
			}
		}
		sc := a.do("PUT", "/export_schedule", map[string]any{"interval": "disabled"}).must(t, 200).Map(t)
		if sc["next_export_at"] != nil || len(sc["events"].([]any)) != len(all) {
			t.Fatalf("disabled schedule: %v", sc)
		}
	})
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
