// Package receiver is for the programs that receive Herald's webhooks: it
// verifies their signatures, decodes their bodies into typed values, and
// serves them as an http.Handler. It depends on the standard library only.
//
// # Signatures
//
// Herald signs every delivery with Standard Webhooks' headers
// (webhook-id, webhook-timestamp, webhook-signature): "v1," HMAC-SHA256
// signatures keyed by the webhook's "whsec_" signing secret and, for a
// webhook with an ed25519 key, "v1a," signatures checked with its "whpk_"
// public key. Beside them, a Layer-format delivery carries Layer's
// layer-webhook-signature (hex HMAC-SHA1 of the body, keyed by the secret
// the webhook was registered with), and a Callbell-format delivery Herald's
// X-Callbell-Signature ("t=<unix>,v1=<hex HMAC-SHA256 of "t.body">", keyed
// by the webhook's secret). A Verifier holds any of these keys, several of
// each kind during a rotation, when Herald signs with the old key and the
// new one; it compares in constant time and refuses timestamps more than
// Tolerance (5 minutes) away. Errors wrap ErrMissingHeader, ErrBadSignature,
// ErrTimestampTooOld, ErrTimestampTooNew, ... for errors.Is.
//
// # Events
//
// Decode returns a *LayerEvent (payload versions 1.0, 2.0 and 3.0, every
// event type) or a *CallbellEvent, whose Payload is the event's own type
// (*CallbellMessageCreated, *CallbellContact, ...). Decoder{Strict: true}
// refuses fields this package does not know, for tests that must notice
// what a newer Herald adds; the zero Decoder ignores them.
//
// # Serving
//
// Handler answers Layer's verification challenge and Callbell's health
// check, and verifies and decodes each POST before handing it on, either to
// a callback (HandlerFunc) or to the next handler with the delivery in the
// request's context (Middleware, FromContext). `herald listen` is such a
// receiver, for development.
package receiver
