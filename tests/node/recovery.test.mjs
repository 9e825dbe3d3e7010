// Recovery property with the real `phoenix` client, for both serializers:
// many publishes race a client whose socket keeps being cut; phoenix.js
// reconnects and rejoins with `since` by itself, and the sequence it hands to
// `channel.on` equals the published sequence exactly (no gap, no duplicate).
// An unknown epoch or a position older than what is kept gives
// `recovered: false`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startHerald, waitFor } from "./lib/herald.mjs";
import { joined, positionOf, serializers, socketFor } from "./lib/phoenix.mjs";

const MESSAGES = 400;

for (const [name, options] of serializers) {
  test(`phoenix.js (${name}): publishes racing disconnects arrive exactly once, in order`, async () => {
    const h = await startHerald({ HERALD_HISTORY__MAX_MESSAGES: "10000" });
    const socket = socketFor(h, { ...options, reconnectAfterMs: () => 20, rejoinAfterMs: () => 20 });
    const topic = `race:${name}`;
    let position = null;
    const received = [];
    const problems = [];
    let joins = 0;
    const channel = socket.channel(topic, () => (position ? { since: position } : {}));
    channel.on("n", (payload, ref) => {
      const at = positionOf(ref);
      if (position && at.offset !== position.offset + 1) {
        problems.push(`offset ${at.offset} after ${position.offset}`);
      }
      position = at;
      received.push(payload.n);
    });
    channel.onError(() => {}); // expected: the socket is cut on purpose
    const first = await joined(channel);
    position = { epoch: first.epoch, offset: first.offset };
    // Called at once for the first join (already answered), then per rejoin.
    channel.joinPush.receive("ok", (reply) => {
      joins += 1;
      if (joins > 1 && !reply.recovered) problems.push(`rejoin not recovered: ${JSON.stringify(reply)}`);
    });

    // Cut the socket every few milliseconds while publishing.
    let cuts = 0;
    const cutter = setInterval(() => {
      if (socket.conn && socket.conn.readyState === 1) {
        socket.conn.terminate();
        cuts += 1;
      }
    }, 25);
    const publishing = (async () => {
      for (let n = 1; n <= MESSAGES; n++) {
        const reply = await h.post("/api/publish", { topic, event: "n", payload: { n } });
        assert.equal(reply.status, 202);
      }
    })();
    await publishing;
    clearInterval(cutter);
    await waitFor(`all ${MESSAGES} messages (have ${received.length})`, () => received.length >= MESSAGES, 20000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(problems, []);
    assert.deepEqual(received, Array.from({ length: MESSAGES }, (_, i) => i + 1));
    assert.ok(cuts >= 5, `the socket was cut ${cuts} times`);
    assert.ok(joins >= 3, `phoenix.js joined ${joins} times`);
    socket.disconnect();
  });
}

test("phoenix.js: unknown epoch and a position older than history give recovered: false", async () => {
  const h = await startHerald({ HERALD_HISTORY__MAX_MESSAGES: "5" });
  const topic = "kept:5";
  for (let n = 1; n <= 20; n++) {
    assert.equal((await h.post("/api/publish", { topic, event: "n", payload: { n } })).status, 202);
  }
  const history = await (await fetch(`${h.url}/api/topics/${topic}/history`)).json();
  assert.equal(history.offset, 20);
  const socket = socketFor(h);

  const unknown = await joined(socket.channel(topic, { since: { epoch: "not-an-epoch", offset: 19 } }));
  assert.equal(unknown.recovered, false);
  assert.equal(unknown.epoch, history.epoch);
  assert.equal(unknown.offset, 20);

  const expired = await joined(socket.channel(topic, { since: { epoch: history.epoch, offset: 3 } }));
  assert.equal(expired.recovered, false, "offsets 4..15 are no longer kept");

  const got = [];
  const recent = socket.channel(topic, { since: { epoch: history.epoch, offset: 17 } });
  recent.on("n", (payload) => got.push(payload.n));
  const reply = await joined(recent);
  assert.equal(reply.recovered, true);
  await waitFor("replayed messages", () => got.length === 3);
  assert.deepEqual(got, [18, 19, 20]);
  socket.disconnect();
});
