'use strict';
// Drives Herald with Layer's own Node client for its Platform API, the npm
// package layer-api (pinned in package.json), loaded unmodified. The only
// thing changed is where its connections go: the documented `agent` option
// (an https.Agent) opens plain TCP connections to Herald's server.
//
// Every method of every resource is called in every version the library can
// ask for (its `version` option, sent in Accept), by callback in 1.0 and 2.0
// and by the library's promises (the ...Async methods) in 1.1 and 3.0. Each
// call prints one JSON line: {"version", "style", "call", "ok", "status"} and,
// when it failed, "error" and what the library reported. A last line
// {"summary": ...} names what was created, for http/layerapi_node_test.go to
// look for in Herald. The exit status is 1 when any call failed.
//
// Environment: HERALD_URL (http://127.0.0.1:port), HERALD_APP_ID,
// HERALD_TOKEN.

const crypto = require('crypto');
const https = require('https');
const net = require('net');
const assert = require('assert/strict');

const LayerAPI = require('layer-api');
const { ResponseError } = require('layer-api/lib/errors');

// HeraldAgent connects to Herald instead of api.layer.com:443. The library
// writes a request's body only once the socket says its TLS handshake is
// done (socket.authorized, or the 'secureConnect' event), so the plain
// socket says so as soon as it is connected.
class HeraldAgent extends https.Agent {
  constructor(target) {
    super({ keepAlive: true });
    this.target = target;
  }

  createConnection() {
    const socket = net.connect({ host: this.target.hostname, port: Number(this.target.port) });
    socket.once('connect', () => {
      socket.authorized = true;
      socket.emit('secureConnect');
    });
    return socket;
  }
}

const target = new URL(process.env.HERALD_URL || '');
if (target.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname)) {
  console.error('HERALD_URL must be a loopback http:// URL, not ' + JSON.stringify(process.env.HERALD_URL));
  process.exit(2);
}
const appId = process.env.HERALD_APP_ID;
const token = process.env.HERALD_TOKEN;
const agent = new HeraldAgent(target);

let failures = 0;

function report(line) {
  process.stdout.write(JSON.stringify(line) + '\n');
}

// invoke calls a library method by callback or through its promise and
// returns what the library reported: {res} or {err}.
function invoke(style, resource, method, ...args) {
  if (style === 'promise') {
    return resource[method + 'Async'](...args).then((res) => ({ res }), (err) => ({ err }));
  }
  return new Promise((resolve) => {
    resource[method](...args, (err, res) => resolve(err ? { err } : { res }));
  });
}

// succeeded checks that the library reported success with the status.
function succeeded(out, status) {
  if (out.err) {
    const e = out.err;
    throw new Error(`the library reported ${e.name}` + (e instanceof ResponseError ? ` ${e.status} ${JSON.stringify(e.body)}` : `: ${e.message}`));
  }
  assert.equal(out.res.status, status, `status ${out.res.status}, want ${status}; body ${JSON.stringify(out.res.body)}`);
  return out.res.body;
}

// failed checks that the library reported Layer's error as a ResponseError.
function failed(out, status, id, code, property) {
  if (!out.err) throw new Error(`succeeded with ${out.res.status} ${JSON.stringify(out.res.body)}, want a ${status} ${id}`);
  const e = out.err;
  assert.ok(e instanceof ResponseError, `the library reported ${e.name}: ${e.message}, want a ResponseError`);
  assert.equal(e.status, status, `status ${e.status}, want ${status}; body ${JSON.stringify(e.body)}`);
  if (id !== undefined) assert.equal(e.body.id, id, `error ${JSON.stringify(e.body)}, want id ${id}`);
  if (code !== undefined) assert.equal(e.body.code, code, `error ${JSON.stringify(e.body)}, want code ${code}`);
  if (property !== undefined) assert.equal((e.body.data || {}).property, property, `error ${JSON.stringify(e.body)}, want data.property ${property}`);
}

// A 204 has an empty body: the library hands it over as ''.
function noContent(out) {
  assert.equal(succeeded(out, 204), '', 'a 204 with a body');
}

const uuidRE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function localId(id, kind) {
  const prefix = `layer:///${kind}/`;
  assert.ok(typeof id === 'string' && id.startsWith(prefix) && uuidRE.test(id.slice(prefix.length)), `id ${JSON.stringify(id)} is not a ${prefix}UUID`);
  return id.slice(prefix.length);
}

async function run(version, style) {
  const layer = new LayerAPI({ token, appId, version, agent, timeout: 5000 });
  const identities = version === '2.0' || version === '3.0';
  const tag = 'v' + version.replace('.', '');
  const user = (name) => `${name}-${tag}`;
  // How the version names users in requests: 1.x by user id, 2.0 and 3.0 by
  // identity id (Server API 2.0 changelog).
  const ref = (u) => (identities ? 'layer:///identities/' + u : u);
  // How it names them in responses: a user id, or a Basic Identity.
  const userOf = (p) => {
    if (!identities) return p;
    assert.equal(p.id, 'layer:///identities/' + p.user_id, `Basic Identity ${JSON.stringify(p)}`);
    return p.user_id;
  };
  const users = (ps) => ps.map(userOf).sort();
  const created = { conversations: [], messages: [], announcements: [], identities: [] };

  async function step(call, f) {
    const line = { version, style, call, ok: true };
    try {
      await f();
    } catch (e) {
      failures++;
      line.ok = false;
      line.error = e.message;
    }
    report(line);
  }
  const call = (resource, method, ...args) => invoke(style, layer[resource], method, ...args);

  const [alice, bob, carol, dave, erin] = ['alice', 'bob', 'carol', 'dave', 'erin'].map(user);

  // Identities, as the library's own integration test makes them.
  const props1 = {
    display_name: 'John Doe',
    avatar_url: 'https://gravatar.com/avatar.png',
    first_name: 'John',
    last_name: 'Doe',
    phone_number: '415-555-0202',
    email_address: 'user@domain.com',
    public_key: '<RSA Key>',
    metadata: { key: 'value' },
  };
  const props2 = { display_name: 'John Doe 2', first_name: 'Johnny', last_name: 'Doey' };
  const getIdentity = async (u) => {
    const body = succeeded(await call('identities', 'get', u), 200);
    assert.equal(body.user_id, u);
    assert.equal(body.id, 'layer:///identities/' + u);
    return body;
  };

  await step('identities.create', async () => {
    // Layer answered 201 with no body ([P1.1] platform/users/identity.md).
    assert.equal(succeeded(await call('identities', 'create', alice, props1), 201), '', 'a created identity has a body');
    created.identities.push(alice);
  });
  await step('identities.create (exists)', async () => {
    failed(await call('identities', 'create', alice, props1), 409, 'id_in_use');
  });
  await step('identities.get', async () => {
    assert.deepEqual(pick(await getIdentity(alice), Object.keys(props1)), props1);
  });
  await step('identities.get (missing)', async () => {
    failed(await call('identities', 'get', user('nobody')), 404, 'not_found', 102);
  });
  await step('identities.edit', async () => {
    noContent(await call('identities', 'edit', alice, { email_address: 'john@doe.com', 'metadata.key': 'value2' }));
    const body = await getIdentity(alice);
    assert.equal(body.email_address, 'john@doe.com');
    assert.deepEqual(body.metadata, { key: 'value2' });
    assert.equal(body.first_name, 'John', 'a field the edit left out changed');
  });
  await step('identities.edit (metadata)', async () => {
    noContent(await call('identities', 'edit', alice, { metadata: { team: 'blue' } }));
    assert.deepEqual((await getIdentity(alice)).metadata, { team: 'blue' });
  });
  await step('identities.replace', async () => {
    noContent(await call('identities', 'replace', alice, props2));
    const body = await getIdentity(alice);
    assert.deepEqual(pick(body, Object.keys(props2)), props2);
    assert.equal(body.email_address, null, 'a replaced identity kept a field the replacement left out');
  });
  for (const u of [bob, carol]) {
    await step('identities.create', async () => {
      succeeded(await call('identities', 'create', u, { display_name: u }), 201);
      created.identities.push(u);
    });
  }

  // Conversations.
  let cid;
  const getConversation = async (id) => {
    const body = succeeded(await call('conversations', 'get', id), 200);
    assert.equal(body.id, 'layer:///conversations/' + localId(id, 'conversations'));
    return body;
  };
  await step('conversations.create', async () => {
    const body = succeeded(await call('conversations', 'create', {
      participants: [ref(alice), ref(bob)],
      metadata: { info: { title: 'A conversation about Coffee' } },
    }), 201);
    assert.deepEqual(users(body.participants), [alice, bob]);
    assert.deepEqual(body.metadata, { info: { title: 'A conversation about Coffee' } });
    // Conversations are distinct unless asked otherwise: "Conversations
    // default to being Distinct" (docs.layer.com/sdk/web/conversations).
    assert.equal(body.distinct, true);
    cid = body.id;
    localId(cid, 'conversations');
    created.conversations.push(cid);
  });
  await step('conversations.create (no participants)', async () => {
    failed(await call('conversations', 'create', {}), 422, 'missing_property', 104, 'participants');
  });
  const conversationKey = crypto.randomUUID();
  let deduped;
  await step('conversations.createDedupe', async () => {
    const body = succeeded(await call('conversations', 'createDedupe', conversationKey, { participants: [ref(alice)] }), 201);
    // Live Layer took the UUID as the new conversation's id
    // (cakejelly/layer-api spec/cassettes/conversation_messages.yml).
    assert.equal(body.id, 'layer:///conversations/' + conversationKey);
    deduped = body;
    created.conversations.push(body.id);
  });
  await step('conversations.createDedupe (retry)', async () => {
    const body = succeeded(await call('conversations', 'createDedupe', conversationKey, { participants: [ref(alice)] }), 201);
    assert.deepEqual(body, deduped, 'a retry answered otherwise than the first request');
  });
  await step('conversations.get', async () => {
    assert.deepEqual(users((await getConversation(cid)).participants), [alice, bob]);
  });
  await step('conversations.get (missing)', async () => {
    failed(await call('conversations', 'get', crypto.randomUUID()), 404, 'not_found', 102);
  });
  await step('conversations.getFromUser', async () => {
    const body = succeeded(await call('conversations', 'getFromUser', alice, cid), 200);
    assert.equal(body.id, cid);
  });
  await step('conversations.getAllFromUser', async () => {
    const body = succeeded(await call('conversations', 'getAllFromUser', alice), 200);
    assert.deepEqual(body.map((c) => c.id).sort(), [cid, deduped.id].sort());
  });
  await step('conversations.getAllFromUser (page_size)', async () => {
    const body = succeeded(await call('conversations', 'getAllFromUser', alice, { page_size: 1 }), 200);
    assert.equal(body.length, 1);
  });
  await step('conversations.edit', async () => {
    noContent(await call('conversations', 'edit', cid, [
      { operation: 'add', property: 'participants', value: ref(carol) },
      { operation: 'remove', property: 'participants', value: ref(carol) },
      { operation: 'set', property: 'participants', value: [ref(alice), ref(bob), ref(carol)] },
    ]));
    assert.deepEqual(users((await getConversation(cid)).participants), [alice, bob, carol]);
  });
  await step('conversations.setMetadataProperties', async () => {
    noContent(await call('conversations', 'setMetadataProperties', cid, { foo: 'bar', number: 123, 'metadata.info.title': 'Tea' }));
    // The library sends every value as a string.
    assert.deepEqual((await getConversation(cid)).metadata, { foo: 'bar', number: '123', info: { title: 'Tea' } });
  });
  await step('conversations.setMetadataProperties (whole metadata)', async () => {
    // The library sends String(value) whatever the value, so an object
    // given for the whole metadata arrives as "[object Object]": Layer's
    // metadata is an object, and Herald refuses the string.
    failed(await call('conversations', 'setMetadataProperties', cid, { metadata: { a: 'b' } }), 422, 'invalid_property', 105, 'operations[0].value');
  });
  await step('conversations.deleteMetadataProperties', async () => {
    noContent(await call('conversations', 'deleteMetadataProperties', cid, { foo: 'bar' }));
    assert.deepEqual((await getConversation(cid)).metadata, { number: '123', info: { title: 'Tea' } });
  });
  await step('conversations.addParticipants', async () => {
    noContent(await call('conversations', 'addParticipants', cid, [ref(dave), ref(erin)]));
    assert.deepEqual(users((await getConversation(cid)).participants), [alice, bob, carol, dave, erin]);
  });
  await step('conversations.removeParticipants', async () => {
    noContent(await call('conversations', 'removeParticipants', cid, [ref(dave)]));
    assert.deepEqual(users((await getConversation(cid)).participants), [alice, bob, carol, erin]);
  });
  await step('conversations.replaceParticipants', async () => {
    noContent(await call('conversations', 'replaceParticipants', cid, [ref(alice), ref(bob)]));
    assert.deepEqual(users((await getConversation(cid)).participants), [alice, bob]);
  });

  // Messages.
  const text = (body) => [{ body, mime_type: 'text/plain' }];
  const partsOf = (m) => m.parts.map((p) => ({ body: p.body, mime_type: p.mime_type }));
  const checkMessage = (body, sender, parts) => {
    localId(body.id, 'messages');
    assert.equal(body.conversation.id, cid);
    assert.deepEqual(partsOf(body), parts);
    if (sender.name !== undefined) {
      // 2.0 named no system senders; Herald shows the name as the
      // sender's display_name, as its 2.0 webhooks do.
      if (identities) assert.equal(body.sender.display_name, sender.name, `sender ${JSON.stringify(body.sender)}`);
      else assert.deepEqual(body.sender, { name: sender.name, user_id: null });
    } else {
      assert.equal(identities ? userOf(body.sender) : body.sender.user_id, sender.user, `sender ${JSON.stringify(body.sender)}`);
    }
  };
  const message = { sender: { name: 'Integration test' }, parts: text('Hello, World!') };
  const sent = [];
  await step('messages.send', async () => {
    const body = succeeded(await call('messages', 'send', cid, message), 201);
    checkMessage(body, message.sender, message.parts);
    sent.push(body.id);
  });
  await step('messages.send (missing conversation)', async () => {
    failed(await call('messages', 'send', crypto.randomUUID(), message), 404, 'not_found', 102);
  });
  await step('messages.send (empty body)', async () => {
    failed(await call('messages', 'send', cid, {}), 422, 'missing_property', 104);
  });
  const messageKey = crypto.randomUUID();
  let dedupedMessage;
  const fromAlice = identities ? { sender_id: ref(alice) } : { sender: { user_id: alice } };
  await step('messages.sendDedupe', async () => {
    const body = succeeded(await call('messages', 'sendDedupe', messageKey, cid, { ...fromAlice, parts: text('once') }), 201);
    assert.equal(body.id, 'layer:///messages/' + messageKey);
    checkMessage(body, { user: alice }, text('once'));
    dedupedMessage = body;
    sent.push(body.id);
  });
  await step('messages.sendDedupe (retry)', async () => {
    const body = succeeded(await call('messages', 'sendDedupe', messageKey, cid, { ...fromAlice, parts: text('once') }), 201);
    assert.deepEqual(body, dedupedMessage, 'a retry answered otherwise than the first request');
  });
  await step('messages.sendTextFromName', async () => {
    const body = succeeded(await call('messages', 'sendTextFromName', cid, 'Integration test', 'hello world'), 201);
    checkMessage(body, { name: 'Integration test' }, text('hello world'));
    sent.push(body.id);
  });
  await step('messages.sendTextFromUser', async () => {
    const body = succeeded(await call('messages', 'sendTextFromUser', cid, alice, 'hello world2'), 201);
    checkMessage(body, { user: alice }, text('hello world2'));
    sent.push(body.id);
  });
  // Listings go newest first.
  const newestFirst = () => [...sent].reverse();
  await step('messages.getAll', async () => {
    const body = succeeded(await call('messages', 'getAll', cid), 200);
    assert.deepEqual(body.map((m) => m.id), newestFirst());
  });
  await step('messages.getAll (page_size)', async () => {
    const body = succeeded(await call('messages', 'getAll', cid, { page_size: 2 }), 200);
    assert.deepEqual(body.map((m) => m.id), newestFirst().slice(0, 2));
  });
  // The parameters the library's README shows, for conversations and for
  // messages alike (page_size, from_id, sort_by).
  await step('messages.getAll (from_id, sort_by)', async () => {
    const newest = newestFirst();
    const body = succeeded(await call('messages', 'getAll', cid, { page_size: 50, from_id: newest[0], sort_by: 'last_message' }), 200);
    assert.deepEqual(body.map((m) => m.id), newest.slice(1));
  });
  await step('messages.getAllFromUser (from_id)', async () => {
    const newest = newestFirst();
    const body = succeeded(await call('messages', 'getAllFromUser', bob, cid, { from_id: newest[1] }), 200);
    assert.deepEqual(body.map((m) => m.id), newest.slice(2));
  });
  await step('conversations.getAllFromUser (sort_by last_message)', async () => {
    // cid has messages, the other none: it comes first.
    const body = succeeded(await call('conversations', 'getAllFromUser', alice, { sort_by: 'last_message' }), 200);
    assert.deepEqual(body.map((c) => c.id), [cid, deduped.id]);
  });
  await step('conversations.getAllFromUser (sort_by created_at, from_id)', async () => {
    const all = succeeded(await call('conversations', 'getAllFromUser', alice, { page_size: 50, sort_by: 'created_at' }), 200);
    assert.deepEqual(all.map((c) => c.id), [deduped.id, cid]);
    const body = succeeded(await call('conversations', 'getAllFromUser', alice, { page_size: 50, from_id: deduped.id, sort_by: 'created_at' }), 200);
    assert.deepEqual(body.map((c) => c.id), [cid]);
  });
  await step('messages.get', async () => {
    const body = succeeded(await call('messages', 'get', sent[0], cid), 200);
    checkMessage(body, message.sender, message.parts);
    assert.equal(body.id, sent[0]);
  });
  await step('messages.getAllFromUser', async () => {
    const body = succeeded(await call('messages', 'getAllFromUser', bob, cid), 200);
    assert.deepEqual(body.map((m) => m.id), newestFirst());
  });
  await step('messages.getAllFromUser (page_size)', async () => {
    const body = succeeded(await call('messages', 'getAllFromUser', bob, cid, { page_size: 1 }), 200);
    assert.deepEqual(body.map((m) => m.id), newestFirst().slice(0, 1));
  });
  await step('messages.getFromUser', async () => {
    const body = succeeded(await call('messages', 'getFromUser', bob, sent[1]), 200);
    checkMessage(body, { user: alice }, text('once'));
    assert.equal(body.id, sent[1]);
  });
  created.messages.push(...sent);

  // Announcements, as the library's integration test sends them.
  const announcement = { recipients: [ref(alice), ref(bob)], sender: { name: 'The System' }, parts: text('Hello, World!') };
  const checkAnnouncement = (body) => {
    for (const k of ['url', 'recipients', 'id', 'sender', 'parts']) assert.ok(k in body, `announcement without ${k}: ${JSON.stringify(body)}`);
    localId(body.id, 'announcements');
    assert.deepEqual(users(body.recipients), [alice, bob]);
    assert.deepEqual(partsOf(body), announcement.parts);
  };
  await step('announcements.send', async () => {
    const body = succeeded(await call('announcements', 'send', announcement), 202);
    checkAnnouncement(body);
    created.announcements.push(body.id);
  });
  const announcementKey = crypto.randomUUID();
  let dedupedAnnouncement;
  await step('announcements.sendDedupe', async () => {
    const body = succeeded(await call('announcements', 'sendDedupe', announcementKey, announcement), 202);
    checkAnnouncement(body);
    assert.equal(body.id, 'layer:///announcements/' + announcementKey);
    dedupedAnnouncement = body;
    created.announcements.push(body.id);
  });
  await step('announcements.sendDedupe (retry)', async () => {
    const body = succeeded(await call('announcements', 'sendDedupe', announcementKey, announcement), 202);
    assert.deepEqual(body, dedupedAnnouncement, 'a retry answered otherwise than the first request');
  });

  // Block list, as the library's integration test uses it.
  await step('blocklist.block', async () => {
    noContent(await call('blocklist', 'block', alice, ref(bob)));
  });
  await step('blocklist.get', async () => {
    const body = succeeded(await call('blocklist', 'get', alice), 200);
    // 1.x lists {user_id} objects, as the library's integration test
    // expects; 2.0 and 3.0 Basic Identities.
    if (identities) assert.deepEqual(body.map(userOf), [bob]);
    else assert.deepEqual(body, [{ user_id: bob }]);
  });
  await step('blocklist.unblock', async () => {
    noContent(await call('blocklist', 'unblock', alice, bob));
  });
  await step('blocklist.get (empty)', async () => {
    assert.deepEqual(succeeded(await call('blocklist', 'get', alice), 200), []);
  });

  // Deletions last.
  await step('conversations.delete', async () => {
    noContent(await call('conversations', 'delete', deduped.id));
    // Layer answered 410 Gone for a deleted conversation ([P1.1]
    // platform/conversations/retrieve-a-conversation.md).
    failed(await call('conversations', 'get', deduped.id), 410);
  });
  await step('identities.delete', async () => {
    noContent(await call('identities', 'delete', carol));
    failed(await call('identities', 'get', carol), 404, 'not_found', 102);
  });
  created.deleted = { conversation: deduped && deduped.id, identity: carol };
  return created;
}

function pick(o, keys) {
  const out = {};
  for (const k of keys) out[k] = o[k];
  return out;
}

(async () => {
  const summary = {};
  for (const [version, style] of [['1.0', 'callback'], ['1.1', 'promise'], ['2.0', 'callback'], ['3.0', 'promise']]) {
    summary[version] = await run(version, style);
  }
  report({ summary });
  agent.destroy();
  process.exitCode = failures > 0 ? 1 : 0;
})().catch((e) => {
  console.error(e.stack);
  agent.destroy();
  process.exitCode = 2;
});
