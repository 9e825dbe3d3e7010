// The inbox with the real `phoenix` client: two devices of one user get each
// notification and every unread count; the inbox operations are channel
// pushes with replies; notifications survive a kill -9 of Herald.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startHerald, Inbox, waitFor } from "./lib/herald.mjs";
import { joined, pushed, socketFor, v1 } from "./lib/phoenix.mjs";

function device(h, options = {}) {
  const socket = socketFor(h, options);
  const channel = socket.channel("user:u1", {});
  const notifications = new Inbox();
  const counts = new Inbox();
  channel.on("notification", (payload) => notifications.push(payload));
  channel.on("unread_count", (payload) => counts.push(payload.count));
  return { socket, channel, notifications, counts };
}

test("phoenix.js: two devices follow one inbox", async () => {
  const h = await startHerald();
  const phone = device(h);
  const browser = device(h, v1);
  await joined(phone.channel);
  await joined(browser.channel);

  const sent = await h.post("/api/users/u1/notifications", {
    type: "points_added",
    title: "You earned 10 points",
    data: { points: 10 },
    priority: "high",
  });
  assert.equal(sent.status, 201);
  for (const d of [phone, browser]) {
    assert.deepEqual(await d.notifications.waitForCount(1), [sent.body]);
    assert.deepEqual(await d.counts.waitForCount(1), [1]);
  }

  const count = await pushed(phone.channel, "unread_count");
  assert.deepEqual(count, { status: "ok", response: { count: 1 } });
  const list = await pushed(browser.channel, "list", { status: "unread", limit: 10 });
  assert.equal(list.status, "ok");
  assert.deepEqual(list.response.notifications, [sent.body]);
  assert.equal(list.response.nextCursor, null);

  const read = await pushed(phone.channel, "mark_read", { id: sent.body.id });
  assert.equal(read.status, "ok");
  assert.ok(read.response.notification.readAt);
  for (const d of [phone, browser]) {
    assert.deepEqual(await d.counts.waitForCount(2), [1, 0]);
  }
  const missing = await pushed(phone.channel, "delete", { id: "999999" });
  assert.equal(missing.status, "error");
  assert.equal(missing.response.reason, "not_found");
  phone.socket.disconnect();
  browser.socket.disconnect();
});

test("inbox: notifications acknowledged before a kill -9 are there after restart", async () => {
  let h = await startHerald();
  const ids = [];
  for (let n = 0; n < 20; n++) {
    const sent = await h.post("/api/users/u7/notifications", { type: "t", data: { n } });
    assert.equal(sent.status, 201);
    ids.push(sent.body.id);
  }
  h = await h.restart(); // SIGKILL, then the same database
  const page = await (await fetch(`${h.url}/api/users/u7/notifications?limit=50`)).json();
  assert.deepEqual(
    page.notifications.map((n) => n.id),
    ids.slice().reverse(),
  );
  await waitFor("unread count", async () => {
    const body = await (await fetch(`${h.url}/api/users/u7/notifications/unread-count`)).json();
    return body.count === 20;
  });
});
