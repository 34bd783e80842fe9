// Package clientapi serves the WebSocket of Layer's Client API: the one
// socket a user's device keeps open to hear of every change to what the
// user can see (change packets, rendered for that user by layerapi's
// ClientView), to send requests (Message.create, Conversation.create,
// Event.replay, presence, Counter.read) and to relay typing indicators
// (signals).
//
// What changed reaches a socket through the event log: each node tails the
// log for the sockets it holds, woken by its own commits and, on
// PostgreSQL, by the other nodes' (herald.SharedStore), so that a change
// made through any node, or through the Server API, reaches every socket of
// every user it concerns; Event.replay reads the same log back after a
// reconnection. Signals are not stored: a node relays them to its own
// sockets and, through herald.SignalBus, to the other nodes'.
//
// The wire protocol is Layer's as its Web SDK (layer-websdk 3.4.18, Client
// API 2.0, subprotocol layer-2.0) and Web XDK (3.0, layer-3.0) speak it;
// see the Client API's websockets docs ([P1.1] client/websockets/*.md:
// overview, request-packet, signal-packet, change-packet, recovery).
package clientapi
