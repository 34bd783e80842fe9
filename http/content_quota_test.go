package http_test

import (
	"strconv"
	"testing"
	"time"

	heraldhttp "github.com/heraldhq/herald/http"
)

// An app's content is bounded (10 GiB by default): the probe declared
// 256 MiB as often as it liked. Declarations count while they may still be
// uploaded, uploads for good.
func TestContentQuota(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		declare := func(size int64) *response {
			return a.do("POST", "/conversations/"+conv+"/content", nil,
				"Upload-Content-Type", "application/octet-stream", "Upload-Content-Length", strconv.FormatInt(size, 10))
		}
		for range 40 {
			declare(256<<20).must(t, 201)
		}
		for _, size := range []int64{256 << 20, 1} {
			e := declare(size).wantError(t, 422, "quota_exceeded", "Upload-Content-Length")
			if data, _ := e["data"].(map[string]any); data["limit"] != float64(10<<30) || data["pending"] != float64(10<<30) {
				t.Fatalf("refusal %v: want the limit of 10 GiB and the 10 GiB declared", e)
			}
		}
		// Declarations whose upload URLs have expired no longer count.
		a.advance(25 * time.Hour)
		declare(256<<20).must(t, 201)
	})

	small := func(s *heraldhttp.Server) { s.Service.MaxContentBytes = 1000 }
	forEachEngineConfigured(t, func(t *testing.T, a *api) {
		conv := a.newConversation(t, "alice", "bob")
		a.uploaded(t, conv, "image/png", randomBytes(t, 600))
		pending := a.newContent(t, conv, "image/png", 400)
		a.do("POST", "/conversations/"+conv+"/content", nil, "Upload-Content-Type", "image/png",
			"Upload-Content-Length", "1").wantError(t, 422, "quota_exceeded", "Upload-Content-Length")
		a.doAs("", "PUT", pending["upload_url"].(string), randomBytes(t, 400)).must(t, 200)
		// Uploaded content counts for good.
		a.advance(25 * time.Hour)
		a.do("POST", "/conversations/"+conv+"/content", nil, "Upload-Content-Type", "image/png",
			"Upload-Content-Length", "1").wantError(t, 422, "quota_exceeded", "Upload-Content-Length")
		// Another app has its own.
		appB, tokenB := a.newApp("b")
		b := &api{t: t, URL: a.URL, AppID: appB, Token: tokenB}
		b.newContent(t, b.newConversation(t, "alice", "bob"), "image/png", 1000)
	}, small)
}
