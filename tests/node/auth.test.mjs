// Tokens with the real `phoenix` client: through `params` and through the
// `authToken` option (a Sec-WebSocket-Protocol entry), refused tokens, and
// API keys for producers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "phoenix";
import WebSocket from "ws";
import { startHerald, Inbox, sleep } from "./lib/herald.mjs";
import { signJwt } from "./lib/tokens.mjs";

const SECRET = "node-test-secret-0123456789";
const API_KEY = "node-producer-key-0123456789";

const jwt = (claims) => signJwt(SECRET, claims);

const securedHerald = () => startHerald({ JWT_SECRET: SECRET, HERALD_API_KEYS: API_KEY });

function joinResult(channel) {
  return new Promise((resolve) => {
    channel
      .join()
      .receive("ok", (response) => resolve({ status: "ok", response }))
      .receive("error", (response) => resolve({ status: "error", response }))
      .receive("timeout", () => resolve({ status: "timeout" }));
  });
}

async function checkSocket(h, options) {
  const socket = new Socket(`${h.wsUrl}/socket`, {
    transport: WebSocket,
    reconnectAfterMs: () => 200,
    ...options,
  });
  socket.connect();
  const own = socket.channel("user:alice", {});
  const inbox = new Inbox();
  own.on("notice", (payload) => inbox.push(payload));
  assert.equal((await joinResult(own)).status, "ok");
  const other = await joinResult(socket.channel("user:bob", {}));
  assert.deepEqual(other, { status: "error", response: { reason: "unauthorized" } });

  const published = await h.post(
    "/api/publish",
    { topic: "user:alice", event: "notice", payload: { text: "hi" } },
    { "x-api-key": API_KEY },
  );
  assert.equal(published.status, 202);
  const [payload] = await inbox.waitForCount(1);
  assert.equal(payload.text, "hi");
  socket.disconnect();
}

test("phoenix.js with the token in params", async () => {
  const h = await securedHerald();
  await checkSocket(h, { params: { token: jwt({ sub: "alice" }) } });
});

test("phoenix.js with the authToken option", async () => {
  const h = await securedHerald();
  // Claims with characters that base64 encodes as + and /, which phoenix.js
  // (btoa) does not make URL-safe.
  await checkSocket(h, { authToken: jwt({ sub: "alice", note: "???>>>~~~" }) });
});

test("phoenix.js with a bad token never opens, and producers need the key", async () => {
  const h = await securedHerald();
  let opened = false;
  let errors = 0;
  const socket = new Socket(`${h.wsUrl}/socket`, {
    transport: WebSocket,
    reconnectAfterMs: () => 100,
    params: { token: jwt({ sub: "alice" }).slice(0, -4) + "AAAA" },
  });
  socket.onOpen(() => (opened = true));
  socket.onError(() => (errors += 1));
  socket.connect();
  await sleep(600);
  socket.disconnect();
  assert.equal(opened, false);
  assert.ok(errors >= 1, "the client saw the refusal");

  const withoutKey = await h.post("/api/publish", { topic: "global", event: "x", payload: {} });
  assert.equal(withoutKey.status, 401);
  assert.equal(withoutKey.body.error.code, "api_key_required");
});

test("phoenix.js: a token that expires closes the socket, and params as a function reconnect with a fresh one", async () => {
  const h = await securedHerald();
  const now = Math.floor(Date.now() / 1000);
  let token = jwt({ sub: "alice", exp: now + 4 });
  const socket = new Socket(`${h.wsUrl}/socket`, {
    transport: WebSocket,
    reconnectAfterMs: () => 100,
    rejoinAfterMs: () => 100,
    params: () => ({ token }),
  });
  const closes = [];
  socket.onClose((event) => closes.push(event.code));
  socket.connect();
  const channel = socket.channel("user:alice", {});
  const inbox = new Inbox();
  channel.on("notice", (payload) => inbox.push(payload));
  const channelErrors = [];
  channel.onError((reason) => channelErrors.push(reason));
  assert.equal((await joinResult(channel)).status, "ok");

  // The old token expires: the channel hears why (phx_error), the socket is
  // closed with 1008. Meanwhile the app has a fresh token.
  token = jwt({ sub: "alice", exp: now + 60 });
  const deadline = Date.now() + 8000;
  while (!closes.includes(1008) && Date.now() < deadline) await sleep(50);
  assert.ok(closes.includes(1008), `closed with 1008 token_expired, got ${closes}`);
  assert.ok(
    channelErrors.some((reason) => reason?.reason === "token_expired"),
    `the channel was told token_expired: ${JSON.stringify(channelErrors)}`,
  );

  // phoenix.js reconnects and rejoins by itself, with the fresh token.
  for (;;) {
    const published = await h.post(
      "/api/publish",
      { topic: "user:alice", event: "notice", payload: { text: "after expiry" } },
      { "x-api-key": API_KEY },
    );
    if (published.body.delivered === 1 || Date.now() > deadline + 5000) break;
    await sleep(100);
  }
  const [payload] = await inbox.waitForCount(1);
  assert.equal(payload.text, "after expiry");
  socket.disconnect();
});
