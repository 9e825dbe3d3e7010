// End-to-end with the real `socket.io-client` (4.x, default options unless
// a test says otherwise): polling then upgrade, WebSocket only, tokens,
// every room kind of the streaming site, acks, one publish reaching Phoenix
// and Socket.IO clients, reconnect after the server drops, connection state
// recovery racing publishes, and bad input on raw connections.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { io } from "socket.io-client";
import WebSocket from "ws";
import { startHerald, Inbox, sleep, waitFor } from "./lib/herald.mjs";
import { socketFor, joined } from "./lib/phoenix.mjs";
import { signJwt } from "./lib/tokens.mjs";

const SECRET = "node-socketio-secret-0123456789";
const API_KEY = "node-socketio-key-0123456789";
const KEY = { "x-api-key": API_KEY };
const jwt = (claims) => signJwt(SECRET, claims);

const sockets = [];
after(() => {
  for (const socket of sockets) socket.disconnect();
});

async function herald(env = {}) {
  const h = await startHerald({ JWT_SECRET: SECRET, HERALD_API_KEYS: API_KEY, ...env });
  return h;
}

/** A socket.io-client socket that reconnects quickly. */
function client(h, options = {}) {
  const socket = io(h.url, { reconnectionDelay: 100, reconnectionDelayMax: 200, ...options });
  sockets.push(socket);
  return socket;
}

/** Resolves on the next `connect`, rejects on `connect_error`. */
function connected(socket) {
  return new Promise((resolve, reject) => {
    const ok = () => {
      socket.off("connect_error", failed);
      resolve();
    };
    const failed = (err) => {
      socket.off("connect", ok);
      reject(err);
    };
    socket.once("connect", ok);
    socket.once("connect_error", failed);
  });
}

const ack = (socket, event, ...args) => socket.timeout(5000).emitWithAck(event, ...args);

async function publish(h, topic, event, payload) {
  const response = await h.post("/api/publish", { topic, event, payload }, KEY);
  assert.equal(response.status, 202, response.text);
  return response.body;
}

/** The Socket.IO rooms Herald's health lists, by name. */
async function roomsOf(h) {
  const health = await (await fetch(`${h.url}/health?rooms=1`, { headers: KEY })).json();
  return (health.socketio.rooms ?? []).map((r) => r.room);
}

/** Collect events named `event` (payload only: the last argument is the position). */
function collect(socket, event) {
  const inbox = new Inbox();
  socket.on(event, (payload) => inbox.push(payload));
  return inbox;
}

test("default transports: long-polling, then the upgrade to WebSocket", async () => {
  const h = await herald({ HERALD_AUTH__ALLOW_ANONYMOUS: "true" });
  const socket = client(h);
  await connected(socket);
  const alerts = collect(socket, "system_alert");
  assert.deepEqual(await ack(socket, "join-global-notifications"), { ok: true, room: "global-notifications" });
  await publish(h, "global-notifications", "system_alert", { n: 1 });
  await waitFor("the upgrade", () => socket.io.engine.transport.name === "websocket");
  await publish(h, "global-notifications", "system_alert", { n: 2 });
  assert.deepEqual(await alerts.waitForCount(2), [{ n: 1 }, { n: 2 }]);
});

test("transports: ['websocket'] only", async () => {
  const h = await herald({ HERALD_AUTH__ALLOW_ANONYMOUS: "true" });
  const socket = client(h, { transports: ["websocket"] });
  await connected(socket);
  assert.equal(socket.io.engine.transport.name, "websocket");
  const alerts = collect(socket, "system_alert");
  await ack(socket, "join-global-notifications");
  await publish(h, "global-notifications", "system_alert", { text: "maintenance" });
  assert.deepEqual(await alerts.waitForCount(1), [{ text: "maintenance" }]);
});

test("auth.token: accepted with the user's id, refused with a stable reason", async () => {
  const h = await herald();
  const good = client(h, { auth: { token: jwt({ sub: "u1" }) } });
  const hello = new Promise((resolve) => good.on("connected", resolve));
  await connected(good);
  assert.equal((await hello).userId, "u1");

  for (const [auth, reason] of [
    [{ token: "not-a-token" }, "token_invalid"],
    [{ token: jwt({ sub: "u1", exp: 1000 }) }, "token_expired"],
    [{}, "token_missing"],
  ]) {
    const bad = client(h, { auth });
    await assert.rejects(connected(bad), (err) => err.message === reason);
    assert.equal(bad.connected, false);
  }
});

test("a token that expires while connected: told why, disconnected, back with a fresh token", async () => {
  const h = await herald();
  const now = Math.floor(Date.now() / 1000);
  const socket = client(h, { auth: { token: jwt({ sub: "u1", exp: now + 4 }) } });
  await connected(socket);
  assert.deepEqual(await ack(socket, "join-global-notifications"), { ok: true, room: "global-notifications" });
  const errors = collect(socket, "error");
  const disconnected = new Promise((resolve) => socket.once("disconnect", resolve));
  assert.equal(await disconnected, "io server disconnect");
  assert.equal(socket.connected, false);
  assert.equal((await errors.waitForCount(1))[0].code, "token_expired");

  // socket.io-client waits for the application: a fresh token reconnects,
  // and the session (rooms included) is recovered.
  socket.auth = { token: jwt({ sub: "u1", exp: now + 60 }) };
  socket.connect();
  await connected(socket);
  assert.equal(socket.recovered, true);
  const alerts = collect(socket, "system_alert");
  await publish(h, "global-notifications", "system_alert", { n: 2 });
  assert.deepEqual(await alerts.waitForCount(1), [{ n: 2 }]);
});

test("a token about to expire is replaced with the refresh event, keeping the socket", async () => {
  const h = await herald();
  const now = Math.floor(Date.now() / 1000);
  const socket = client(h, { auth: { token: jwt({ sub: "u1", exp: now + 4 }) } });
  const errors = [];
  socket.on("connect_error", (err) => errors.push(err.message));
  await connected(socket);
  assert.deepEqual(await ack(socket, "join-global-notifications"), { ok: true, room: "global-notifications" });

  const refused = await ack(socket, "refresh", { token: jwt({ sub: "u2", exp: now + 60 }) });
  assert.deepEqual(refused, { ok: false, error: "user_mismatch" });
  const renewed = await ack(socket, "refresh", { token: jwt({ sub: "u1", exp: now + 60 }) });
  assert.deepEqual(renewed, { ok: true, expiresAt: now + 60 });

  await sleep(5000);
  assert.equal(socket.connected, true);
  assert.deepEqual(errors, []);
  const alerts = collect(socket, "system_alert");
  await publish(h, "global-notifications", "system_alert", { n: 1 });
  assert.deepEqual(await alerts.waitForCount(1), [{ n: 1 }]);
});

test("the action webhook is signed, and README's Node check accepts it", async () => {
  const webhookSecret = "node-webhook-secret-0123456789";
  const received = [];
  const backend = createServer((req, res) => {
    let rawBody = "";
    req.on("data", (chunk) => (rawBody += chunk));
    req.on("end", () => {
      // The check README gives to backends, as written there.
      const expected = "v1=" + createHmac("sha256", webhookSecret).update(`${req.headers["x-herald-timestamp"]}.${rawBody}`).digest("hex");
      const given = Buffer.from(req.headers["x-herald-signature"] ?? "");
      const valid = given.length === expected.length && timingSafeEqual(given, Buffer.from(expected))
        && Math.abs(Date.now() / 1000 - Number(req.headers["x-herald-timestamp"])) < 300;
      received.push({ valid, body: JSON.parse(rawBody) });
      res.writeHead(valid ? 200 : 401, { "content-type": "application/json" });
      res.end(JSON.stringify(valid ? { balance: 110 } : { error: "bad signature" }));
    });
  });
  await new Promise((resolve) => backend.listen(0, "127.0.0.1", resolve));
  try {
    const url = `http://127.0.0.1:${backend.address().port}/actions`;
    const h = await herald({
      HERALD_SOCKETIO__ACTION_WEBHOOK_URL: url,
      HERALD_SOCKETIO__ACTION_WEBHOOK_SECRET: webhookSecret,
    });
    const socket = client(h, { auth: { token: jwt({ sub: "g1" }) } });
    await connected(socket);
    const answer = await ack(socket, "action", { type: "redeem", points: 10 });
    assert.deepEqual(answer, { ok: true, result: { balance: 110 } });
    assert.equal(received.length, 1);
    assert.equal(received[0].valid, true);
    assert.equal(received[0].body.user.userId, "g1");
  } finally {
    backend.close();
  }
});

test("join and leave every room kind; another user's room is refused", async () => {
  const h = await herald();
  const socket = client(h, { auth: { token: jwt({ sub: "u1" }) } });
  await connected(socket);
  const notifications = collect(socket, "notification");
  const errors = collect(socket, "error");

  const rooms = [
    ["user-notifications", "u1", "user-notifications:u1"],
    ["channel-notifications", "c1", "channel-notifications:c1"],
    ["global-notifications", undefined, "global-notifications"],
  ];
  for (const [kind, id, room] of rooms) {
    const args = id === undefined ? [] : [id];
    assert.deepEqual(await ack(socket, `join-${kind}`, ...args), { ok: true, room });
  }
  for (const [, , room] of rooms) {
    await publish(h, room, "notification", { id: room, type: "TIP", data: {}, timestamp: "2026-12-03T10:00:00Z" });
  }
  const got = await notifications.waitForCount(3);
  assert.deepEqual(got.map((n) => n.id), rooms.map(([, , room]) => room));

  const refused = await ack(socket, "join-user-notifications", "u2");
  assert.equal(refused.ok, false);
  assert.equal(refused.error, "forbidden");
  const [error] = await errors.waitForCount(1);
  assert.equal(error.code, "forbidden");
  assert.equal(error.event, "join-user-notifications");

  for (const [kind, id] of rooms) {
    const args = id === undefined ? [] : [id];
    assert.equal((await ack(socket, `leave-${kind}`, ...args)).ok, true);
  }
  for (const [, , room] of rooms) await publish(h, room, "notification", { id: "after-leave" });
  await publish(h, "user-notifications:u2", "notification", { id: "not-mine" });
  await sleep(300);
  assert.equal(notifications.items.length, 3);
});

test("loyalty subscribe/unsubscribe with acks, and server events", async () => {
  const h = await herald();
  const socket = client(h, { auth: { token: jwt({ sub: "g1", businessId: "b1" }) } });
  await connected(socket);
  const points = collect(socket, "points_added");
  assert.deepEqual(await ack(socket, "subscribe", { channel: "user", params: { userId: "g1" } }), {
    ok: true,
    channel: "user",
    room: "user:g1",
  });
  const refused = await ack(socket, "subscribe", { channel: "business", params: { businessId: "b2" } });
  assert.deepEqual([refused.ok, refused.error], [false, "forbidden"]);
  await publish(h, "user:g1", "points_added", { points: 10 });
  assert.deepEqual(await points.waitForCount(1), [{ points: 10 }]);
  assert.equal((await ack(socket, "unsubscribe", { channel: "user" })).ok, true);
  await publish(h, "user:g1", "points_added", { points: 20 });
  await sleep(300);
  assert.equal(points.items.length, 1);
});

test("one POST /api/publish reaches a Phoenix client and a Socket.IO client", async () => {
  const h = await herald({ HERALD_AUTH__ALLOW_ANONYMOUS: "true" });
  const phoenix = socketFor(h);
  const channel = phoenix.channel("global-notifications", {});
  const phoenixInbox = new Inbox();
  channel.on("system_alert", (payload) => phoenixInbox.push(payload));
  await joined(channel);
  const socket = client(h);
  await connected(socket);
  const socketioInbox = collect(socket, "system_alert");
  await ack(socket, "join-global-notifications");

  const body = await publish(h, "global-notifications", "system_alert", { text: "both" });
  assert.equal(body.delivered, 2);
  assert.deepEqual(await phoenixInbox.waitForCount(1), [{ text: "both" }]);
  assert.deepEqual(await socketioInbox.waitForCount(1), [{ text: "both" }]);
  phoenix.disconnect();
});

test("reconnect after the server drops the connection", async () => {
  let h = await herald({ HERALD_AUTH__ALLOW_ANONYMOUS: "true" });
  const socket = client(h);
  const alerts = collect(socket, "system_alert");
  let connects = 0;
  socket.on("connect", () => {
    connects += 1;
    // A fresh session (nothing to recover on a new server): join again.
    if (!socket.recovered) socket.emit("join-global-notifications");
  });
  await waitFor("first connect", () => connects === 1);
  await waitFor("joined", async () => (await roomsOf(h)).includes("global-notifications"));
  h = await h.restart();
  await waitFor("reconnect", () => connects === 2, 10000);
  await waitFor("rejoined", async () => (await roomsOf(h)).includes("global-notifications"));
  await publish(h, "global-notifications", "system_alert", { after: "restart" });
  assert.deepEqual(await alerts.waitForCount(1), [{ after: "restart" }]);
});

test("connection state recovery: publishes racing a dropped connection arrive exactly once, in order", async () => {
  const TOTAL = 400;
  const rooms = ["global-notifications", "channel-notifications:c1"];
  const roomOf = (n) => (n % 3 === 0 ? rooms[1] : rooms[0]);
  const h = await herald({ HERALD_AUTH__ALLOW_ANONYMOUS: "true", HERALD_HISTORY__MAX_MESSAGES: "1000" });
  const socket = client(h, { transports: ["websocket"] });
  const received = new Map(rooms.map((room) => [room, []]));
  socket.on("notification", (payload) => received.get(roomOf(payload.n)).push(payload.n));
  const recoveredFlags = [];
  socket.on("connect", () => {
    recoveredFlags.push(socket.recovered);
    if (!socket.recovered) {
      socket.emit("join-global-notifications");
      socket.emit("join-channel-notifications", "c1");
    }
  });
  await waitFor("connect", () => recoveredFlags.length === 1);
  await waitFor("joined", async () => (await roomsOf(h)).length === 2);

  const publisher = (async () => {
    for (let n = 1; n <= TOTAL; n++) await publish(h, roomOf(n), "notification", { n });
  })();
  const count = () => [...received.values()].reduce((sum, list) => sum + list.length, 0);
  await waitFor("some deliveries", () => count() >= 80);
  // Drop the TCP connection abruptly, with broadcasts in flight.
  socket.io.engine.transport.ws._socket.destroy();
  await publisher;
  await waitFor("reconnect", () => recoveredFlags.length === 2, 10000);
  assert.deepEqual(recoveredFlags, [false, true], "socket.recovered after the reconnect");
  await waitFor(`all ${TOTAL} (have ${count()})`, () => count() >= TOTAL, 10000);
  await sleep(200);
  for (const room of rooms) {
    const expected = [];
    for (let n = 1; n <= TOTAL; n++) if (roomOf(n) === room) expected.push(n);
    assert.deepEqual(received.get(room), expected, `${room}: no gap, no duplicate`);
  }
});

test("connection state recovery: back after the window gives recovered false", async () => {
  const h = await herald({ HERALD_AUTH__ALLOW_ANONYMOUS: "true", HERALD_SOCKETIO__RECOVERY_WINDOW_SECS: "1" });
  const socket = client(h, {
    transports: ["websocket"],
    reconnectionDelay: 2000,
    reconnectionDelayMax: 2000,
    randomizationFactor: 0,
  });
  const flags = [];
  socket.on("connect", () => flags.push(socket.recovered));
  const alerts = collect(socket, "system_alert");
  await waitFor("connect", () => flags.length === 1);
  await ack(socket, "join-global-notifications");
  await publish(h, "global-notifications", "system_alert", { n: 1 });
  await alerts.waitForCount(1);
  socket.io.engine.transport.ws._socket.destroy();
  await waitFor("reconnect", () => flags.length === 2, 10000);
  assert.deepEqual(flags, [false, false]);
});

test("bad input on raw connections leaves other clients alone", async () => {
  const h = await herald({ HERALD_AUTH__ALLOW_ANONYMOUS: "true", HERALD_SOCKETIO__MAX_PAYLOAD_BYTES: "1000" });
  const bystander = client(h);
  await connected(bystander);
  const alerts = collect(bystander, "system_alert");
  await ack(bystander, "join-global-notifications");

  const raw = () => {
    const ws = new WebSocket(`${h.wsUrl}/socket.io/?EIO=4&transport=websocket`);
    const messages = [];
    const closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
    ws.on("message", (data) => messages.push(data.toString()));
    const opened = new Promise((resolve) => ws.on("open", resolve));
    return { ws, messages, closed, opened };
  };
  for (const garbage of ["abc", "4abc", "42{}", '42abc["x"]']) {
    const conn = raw();
    await conn.opened;
    conn.ws.send("40");
    conn.ws.send(garbage);
    assert.equal(await conn.closed, 1002, garbage);
  }
  const lost = raw();
  await lost.opened;
  lost.ws.send("40/admin,");
  await waitFor("connect error", () => lost.messages.includes('44/admin,{"message":"Invalid namespace"}'));
  lost.ws.close();
  const big = raw();
  await big.opened;
  big.ws.send(`42["action","${"x".repeat(2000)}"]`);
  assert.equal(await big.closed, 1009);

  await publish(h, "global-notifications", "system_alert", { still: "here" });
  assert.deepEqual(await alerts.waitForCount(1), [{ still: "here" }]);
});
