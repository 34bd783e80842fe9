package layerapi

import (
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
)

// Version is a version of Layer's server API.
type Version string

const (
	V10 Version = "1.0" // Platform API 1.0
	V11 Version = "1.1" // Platform API 1.1: 1.0's shapes, with identities
	V20 Version = "2.0" // Server API 2.0: identities name users everywhere
	V30 Version = "3.0" // Server API 3.0: message parts are objects of their own
)

// Versions lists the versions Herald serves, oldest first.
var Versions = []Version{V10, V11, V20, V30}

// DefaultVersion is the version of a request that asks for none. Layer
// refused such requests (406 invalid_header, [P1.1]
// platform/introduction/overview.md); Herald serves them in the version
// its own examples and earlier releases spoke, so that curl needs no
// header. A request naming Layer's media type must name a version Herald
// serves, as Layer required.
const DefaultVersion = V11

// MediaType is the media type that carries the version in Accept.
const MediaType = "application/vnd.layer+json"

// identities reports whether the version names users by identity: Basic
// Identity objects in responses, identity ids in requests (Server API 2.0
// changelog: "use of user_id values is replaced with … Layer Identity IDs
// or Layer's Basic Identity Objects").
func (v Version) identities() bool { return v == V20 || v == V30 }

// partIDs reports whether message parts have ids of their own (3.0).
func (v Version) partIDs() bool { return v == V30 }

// Negotiate returns the version a request asks for in its Accept header:
// the first application/vnd.layer+json entry's version parameter, or
// DefaultVersion when no entry names Layer's media type. An entry naming
// it without a version Herald serves is refused as Layer refused it: 406
// invalid_header (code 107) with data.header "Accept".
func Negotiate(r *http.Request) (Version, error) {
	return negotiate(r, Versions, DefaultVersion, "1.0, 1.1, 2.0 or 3.0")
}

func negotiate(r *http.Request, served []Version, def Version, named string) (Version, error) {
	for _, accept := range r.Header.Values("Accept") {
		for _, entry := range strings.Split(accept, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(entry))
			if err != nil || !strings.EqualFold(mt, MediaType) {
				continue
			}
			v := Version(strings.TrimSpace(params["version"]))
			if slices.Contains(served, v) {
				return v, nil
			}
			return "", &herald.Error{ID: herald.EInvalidHeader,
				Message: "Invalid Accept header; must be of form application/vnd.layer+json; version=x.y, with a version of " + named + ".",
				Data:    map[string]any{"header": "Accept"}}
		}
	}
	return def, nil
}

// ClientVersions lists the Client API versions Herald serves: 2.0, which
// Layer's Web SDK 3.x speaks, and 3.0, which the Web XDK 4.x speaks.
var ClientVersions = []Version{V20, V30}

// DefaultClientVersion is the Client API version of a request that names
// no Layer media type: 2.0, the version the Web SDK's Client API was
// written for.
const DefaultClientVersion = V20

// NegotiateClient is Negotiate for the Client API: an Accept naming
// Layer's media type must name 2.0 or 3.0 (406 invalid_header otherwise,
// 1.x included: the Client API 1.0 named users by user id, which Herald's
// Client API does not), and none names DefaultClientVersion.
func NegotiateClient(r *http.Request) (Version, error) {
	return negotiate(r, ClientVersions, DefaultClientVersion, "2.0 or 3.0")
}
