// Package layerapi serves Layer's server API over Herald's domain
// operations (package messaging): Platform API 1.0 and 1.1, and Server API
// 2.0 and 3.0, each chosen by the request's Accept header
// (application/vnd.layer+json; version=X, see Negotiate).
//
// The versions differ in shapes, not in behaviour, so there is one handler
// per operation: requests are decoded into one form whatever their version
// (a 1.x sender.user_id and a 2.0 sender_id name the same user), and
// responses are rendered by a view of the request's version (see view):
// 1.x names users by bare user ids, 2.0 and 3.0 by identity ids and Basic
// Identity objects, and 3.0 gives message parts ids of their own.
//
// The same operations serve Layer's Client API (client.go): at the
// server's root, authenticated by a user's session, acting as that user,
// in versions 2.0 and 3.0 (NegotiateClient), with the Client API's URLs in
// every object. The server API's Client API Proxy routes
// (/apps/{app}/users/{user}/...) are the same handlers acting as the
// path's user. ClientView renders objects as one user sees them there, for
// the WebSocket's change packets as for REST.
//
// The routes are registered on package http's Server, which authenticates
// and limits the requests and answers errors in Layer's shape.
package layerapi
