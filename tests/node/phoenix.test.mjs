// End-to-end with the real `phoenix` npm client: joins, broadcasts from the
// HTTP API, leave, both serializers, and rejoin after the server drops.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startHerald, Inbox, sleep, waitFor } from "./lib/herald.mjs";
import { joined, positionOf, serializers, socketFor } from "./lib/phoenix.mjs";

const notification = {
  type: "resource_created",
  resourceType: "reservation",
  businessId: "b1",
  locationId: "l1",
  resourceId: "r-1",
  shardId: "s1",
  timestamp: "2026-11-22T12:00:00Z",
};

for (const [name, options] of serializers) {
  test(`phoenix.js (${name}): notification reaches both topics, nothing after leave`, async () => {
    const h = await startHerald();
    const socket = socketFor(h, options);
    const location = socket.channel("resources:b1-l1", {});
    const business = socket.channel("resources:b1", {});
    const got = new Inbox();
    location.on("resource_update", (payload, ref) => got.push({ topic: "resources:b1-l1", payload, ref }));
    business.on("resource_update", (payload, ref) => got.push({ topic: "resources:b1", payload, ref }));
    const [locationReply] = await Promise.all([joined(location), joined(business)]);
    assert.equal(locationReply.recovered, false);
    assert.equal(typeof locationReply.epoch, "string");

    const response = await h.post("/api/notifications", notification);
    assert.equal(response.status, 202, response.text);
    assert.equal(response.body.published, 2);

    const messages = await got.waitForCount(2, "resource_update events");
    assert.deepEqual(messages.map((m) => m.topic).sort(), ["resources:b1", "resources:b1-l1"]);
    for (const message of messages) {
      assert.deepEqual(message.payload, notification);
      assert.match(message.ref, /^[0-9a-f]+:1$/, "position rides in the ref");
    }

    await new Promise((resolve) => location.leave().receive("ok", resolve));
    await new Promise((resolve) => business.leave().receive("ok", resolve));
    assert.equal((await h.post("/api/notifications", notification)).status, 202);
    await sleep(400);
    assert.equal(got.items.length, 2, "no messages after leaving");
    socket.disconnect();
  });
}

test("phoenix.js: /api/publish and /api/broadcast reach subscribers with the exact payload", async () => {
  const h = await startHerald();
  const socket = socketFor(h);
  const channel = socket.channel("user:42", {});
  const got = new Inbox();
  channel.on("points_added", (payload) => got.push(payload));
  channel.on("system_alert", (payload) => got.push(payload));
  await joined(channel);
  const payload = { points: 10, nested: { list: [1, "two", null], unicode: "ü✓" } };
  assert.equal((await h.post("/api/publish", { topic: "user:42", event: "points_added", payload })).status, 202);
  const alert = { text: "maintenance" };
  const broadcast = await h.post("/api/broadcast", { topics: ["user:42", "global"], event: "system_alert", payload: alert });
  assert.equal(broadcast.status, 202);
  assert.deepEqual(await got.waitForCount(2), [payload, alert]);
  socket.disconnect();
});

const restarts = [
  ["the server is killed (kill -9)", (h) => h.restart()],
  [
    "the server shuts down gracefully (SIGTERM)",
    async (h) => {
      assert.equal((await h.stop()).code, 0, "a graceful stop exits 0");
      return startHerald({}, h.port);
    },
  ],
];

for (const [how, restart] of restarts) {
  test(`phoenix.js rejoins by itself after ${how} and comes back`, async () => {
    let h = await startHerald();
    const socket = socketFor(h);
    const channel = socket.channel("resources:b9-l9", {});
    let joins = 0;
    channel.join().receive("ok", () => {
      joins += 1;
    });
    const got = new Inbox();
    channel.on("resource_update", (payload) => got.push(payload));
    await waitFor("first join", () => joins === 1);

    h = await restart(h); // a new Herald on the same port
    await waitFor("automatic rejoin", () => joins >= 2, 10000);

    const body = { ...notification, businessId: "b9", locationId: "l9" };
    assert.equal((await h.post("/api/notifications", body)).status, 202);
    const [payload] = await got.waitForCount(1, "broadcast after the restart");
    assert.deepEqual(payload, body);
    socket.disconnect();
  });
}

test("phoenix.js recovers missed messages on rejoin with `since`", async () => {
  const h = await startHerald();
  let position = null;
  const received = [];
  const socket = socketFor(h);
  // The join payload is computed on every (re)join.
  const channel = socket.channel("chat:b1:u1", () => (position ? { since: position } : {}));
  const replies = [];
  channel.on("msg", (payload, ref) => {
    position = positionOf(ref);
    received.push(payload.n);
  });
  channel.join().receive("ok", (reply) => {
    replies.push(reply);
    if (!reply.recovered) position = { epoch: reply.epoch, offset: reply.offset };
  });
  await waitFor("join", () => replies.length === 1);

  const publish = (n) => h.post("/api/publish", { topic: "chat:b1:u1", event: "msg", payload: { n } });
  for (let n = 1; n <= 3; n++) await publish(n);
  await waitFor("live messages", () => received.length === 3);

  // Drop the socket from the client side without phoenix.js noticing a
  // clean close, publish meanwhile, and let it reconnect and rejoin.
  socket.conn.terminate();
  for (let n = 4; n <= 8; n++) await publish(n);
  await waitFor("rejoin", () => replies.length === 2, 10000);
  assert.equal(replies[1].recovered, true, JSON.stringify(replies[1]));
  for (let n = 9; n <= 10; n++) await publish(n);
  await waitFor("all messages", () => received.length >= 10, 10000);
  await sleep(200);
  assert.deepEqual(received, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  socket.disconnect();
});
