'use strict';
// One user of Layer's own Web SDK, the npm package layer-websdk (pinned in
// package.json), loaded unmodified in Node and pointed at Herald. Only the
// browser globals the SDK expects are provided, before it is required: one
// SDK Client per process, as the SDK keeps a registry keyed by app id and a
// module-level patch parser bound to its first client.
//
// It speaks JSON lines. Commands arrive on stdin ({"cmd": ..., ...}); what
// the SDK does and reports goes to stdout ({"event": ..., ...}), for
// http/websdk_node_test.go, which plays the app and its identity provider.
//
// Environment: HERALD_URL (http://127.0.0.1:port), HERALD_WS_URL
// (ws://127.0.0.1:port), HERALD_APP_ID (layer:///apps/...), HERALD_USER.

const readline = require('readline');

function emit(event, fields) {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

// The trace of what the SDK sends and receives, for the test's failure
// messages: HTTP through the XHR below, WebSocket frames through the
// WebSocket below (outgoing frames and failed upgrades) and the SDK's socket
// manager (incoming packets).
function trace(fields) { emit('trace', fields); }
function responseOf(xhr) {
  const type = xhr.getResponseHeader('content-type');
  const body = xhr.responseType === '' || xhr.responseType === 'text' ? xhr.responseText.slice(0, 2000) : `(${xhr.responseType})`;
  return `${type || '(no content-type)'} ${body}`;
}

// The browser globals. window is the global object; XMLHttpRequest is the
// SDK's own dependency xhr2, which cannot send a Blob (the rich-content
// upload), so a Blob is sent as its bytes.
global.window = global;
global.XMLHttpRequest = require('xhr2');
const { open, send } = global.XMLHttpRequest.prototype;
global.XMLHttpRequest.prototype.open = function openTraced(method, url, ...rest) {
  this.addEventListener('loadend', () => trace({ http: `${method} ${url}`, status: this.status, response: responseOf(this) }));
  return open.call(this, method, url, ...rest);
};
global.XMLHttpRequest.prototype.send = function sendBlobAsBytes(data) {
  if (data) trace({ sent: typeof data === 'string' ? data.slice(0, 2000) : `${data.constructor.name} of ${data.size || data.byteLength} bytes` });
  if (data instanceof Blob) {
    data.arrayBuffer().then(bytes => send.call(this, bytes),
      err => emit('error', { where: 'upload', error: String(err) }));
    return;
  }
  send.call(this, data);
};

const websocket = require('websocket');

// The WebSocket is the SDK's own dependency too, but given as the global a
// browser has: without a global the SDK takes its socket for open until it
// is replaced, so a request queued after Herald closes a socket (its session
// ended) throws "cannot call send() while not connected" out of the SDK and
// ends the process. With the global it reads readyState, as in a browser.
global.WebSocket = websocket.w3cwebsocket;
const wsSend = websocket.w3cwebsocket.prototype.send;
websocket.w3cwebsocket.prototype.send = function sendTraced(data) {
  trace({ ws_sent: data });
  return wsSend.call(this, data);
};
const wsConnect = websocket.client.prototype.connect;
websocket.client.prototype.connect = function connectTraced(url, ...rest) {
  this.once('connectFailed', err => trace({ ws_connect_failed: url, error: String(err) }));
  return wsConnect.call(this, url, ...rest);
};

// What the SDK asks of its host through getNativeSupport: setImmediate for
// its defer, a FileReader (Node has none) and no online events.
class FileReader {
  constructor() { this.listeners = []; }

  addEventListener(name, f) { if (name === 'loadend') this.listeners.push(f); }

  readAsText(blob) { this.read(blob.text()); }

  readAsDataURL(blob) {
    this.read(blob.arrayBuffer().then(b => `data:${blob.type};base64,${Buffer.from(b).toString('base64')}`));
  }

  read(promise) {
    promise.then((result) => {
      this.result = result;
      if (this.onloadend) this.onloadend();
      this.listeners.forEach(f => f());
    }, err => emit('error', { where: 'FileReader', error: String(err) }));
  }
}
global.getNativeSupport = name => ({ setImmediate, FileReader }[name] || null);

const layer = require('layer-websdk');

const userId = process.env.HERALD_USER;
const client = new layer.Client({
  appId: process.env.HERALD_APP_ID,
  url: process.env.HERALD_URL,
  websocketUrl: process.env.HERALD_WS_URL,
  isTrustedDevice: false,
  telemetryEnabled: false,
  logLevel: layer.Constants.LOG.WARN,
});

function errorOf(err) {
  if (!err) return null;
  return { id: err.id || err.errType, code: err.code, message: err.message, httpStatus: err.httpStatus, data: err.data };
}

function partOf(p) {
  return { mimeType: p.mimeType, body: typeof p.body === 'string' ? p.body : null, hasContent: p.hasContent, size: p.size };
}

function messageOf(m) {
  return {
    id: m.id,
    conversation: m.conversationId,
    sender: m.sender && m.sender.userId,
    position: m.position,
    isRead: m.isRead,
    recipientStatus: m.recipientStatus,
    parts: m.parts.map(partOf),
  };
}

function conversationOf(c) {
  return {
    id: c.id,
    participants: c.participants.map(p => p.userId).sort(),
    distinct: c.distinct,
    metadata: c.metadata,
    unreadCount: c.unreadCount,
    lastMessage: c.lastMessage ? messageOf(c.lastMessage) : null,
  };
}

// What the client reports about itself.
let answerChallenge = null;
client.on('challenge', (evt) => {
  answerChallenge = evt.callback;
  emit('challenge', { nonce: evt.nonce });
});
client.on('ready', () => {
  const u = client.user;
  emit('ready', {
    user: u && { userId: u.userId, id: u.id, displayName: u.displayName, isFullIdentity: u.isFullIdentity },
  });
});
['authenticated', 'deauthenticated', 'connected'].forEach(name => client.on(name, () => emit(name, {})));
client.on('online', evt => emit('online', { isOnline: evt.isOnline }));
client.socketManager.on('message', evt => trace({ ws_received: evt.data }));
// A socket is open, then connected once Herald's first packet (counter 0)
// verifies it.
client.socketManager.on('connected', evt => emit('socket', { state: evt.verified ? 'connected' : 'open' }));
client.socketManager.on('disconnected', () => emit('socket', { state: 'disconnected' }));
// A reopened socket is synced once Herald has answered its Event.replay and
// then its presence requests.
client.socketManager.on('synced', () => emit('socket', { state: 'synced' }));
client.on('websocket:replaying-events', () => emit('replaying', {}));
['connected-error', 'authenticated-error', 'identities:loaded-error', 'messages:sent-error',
  'conversations:sent-error'].forEach((name) => {
  client.on(name, evt => emit('error', { where: name, error: errorOf(evt.error) }));
});

// What reaches the client from Herald.
client.on('messages:add', evt => evt.messages.forEach(m => emit('message', { message: messageOf(m) })));
client.on('messages:change', (evt) => {
  if (evt.getChangesFor('recipientStatus').length) {
    emit('recipient_status', { id: evt.target.id, recipientStatus: evt.target.recipientStatus });
  }
});
client.on('typing-indicator-change', (evt) => {
  emit('typing', {
    conversation: evt.conversationId,
    typing: evt.typing.map(i => i.userId).sort(),
    paused: evt.paused.map(i => i.userId).sort(),
  });
});

function watch(query, name, fields) {
  query.on('error', evt => emit('error', { where: `${name} query`, ...fields, error: errorOf(evt.error) }));
  query.on('change', (evt) => {
    if (evt.type !== 'data') return;
    emit(name, { ...fields, totalSize: query.totalSize, [name]: query.data.map(name === 'conversations' ? conversationOf : messageOf) });
  });
}

const publisher = client.createTypingPublisher();

// What the app asks of the SDK.
const commands = {
  connect() { client.connect(userId); },
  answer({ token }) { answerChallenge(token); },
  query_conversations() {
    watch(client.createQuery({
      model: layer.Query.Conversation,
      dataType: layer.Query.InstanceDataType,
      sortBy: [{ 'lastMessage.sentAt': 'desc' }],
    }), 'conversations', {});
  },
  query_messages({ conversation }) {
    watch(client.createQuery({
      model: layer.Query.Message,
      dataType: layer.Query.InstanceDataType,
      predicate: `conversation.id = '${conversation}'`,
    }), 'messages', { conversation });
  },
  create_conversation({ ref, participants, distinct, metadata }) {
    const c = client.createConversation({ participants, distinct, metadata });
    c.on('conversations:sent', evt => emit('conversation_sent', { ref, result: evt.result, created: conversationOf(c) }));
    c.send();
  },
  send({ ref, conversation, parts }) {
    const m = client.getConversation(conversation, true).createMessage({ parts });
    m.on('messages:sent', () => emit('message_sent', { ref, message: messageOf(m) }));
    m.send();
  },
  typing({ conversation, state }) {
    const c = client.getConversation(conversation, true);
    if (publisher.conversation !== c) publisher.setConversation(c);
    publisher.setState(state);
  },
  mark_read({ message }) { client.getMessage(message, true).isRead = true; },
  fetch_content({ message, part }) {
    const p = client.getMessage(message, true).parts[part];
    p.once('content-loaded-error', err => emit('error', { where: 'fetchContent', id: message, part, error: errorOf(err) }));
    p.fetchContent(body => emit('content', { id: message, part, body: typeof body === 'string' ? body : null }));
  },
};

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  let c;
  try {
    c = JSON.parse(line);
    commands[c.cmd](c);
  } catch (err) {
    emit('error', { where: `command ${c ? c.cmd : line}`, error: String(err && err.stack) });
  }
}).on('close', () => process.exit(0));
