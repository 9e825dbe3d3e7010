// Memory per idle Socket.IO connection (WebSocket transport): opens COUNT
// connections to a running Herald, each connected to `/` and joined to one
// room, and reads the server's VmRSS from /proc before and after.
//
//   ulimit -n 20000
//   HERALD_LIMITS__MAX_CONNECTIONS_PER_IP=0 HOST=127.0.0.1 PORT=4100 LOG_LEVEL=warn \
//     target/release/herald serve & HERALD_PID=$!
//   node tests/node/tools/socketio-idle-memory.mjs $HERALD_PID http://127.0.0.1:4100 10000
//
// The clients answer pings, so connections stay for as long as the script
// runs; it exits (closing them all) after printing its JSON report.
import { readFileSync } from "node:fs";
import WebSocket from "ws";

const [pid, url, countArg, settleArg] = process.argv.slice(2);
if (!pid || !url) {
  console.error("usage: socketio-idle-memory.mjs <herald-pid> <http-url> [count=10000] [settle-ms=5000]");
  process.exit(2);
}
const count = Number(countArg ?? 10000);
const settleMs = Number(settleArg ?? 5000);
const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let joined = 0;
let failed = 0;
const sockets = [];

function open() {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`, {
      perMessageDeflate: false,
    });
    sockets.push(ws);
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      if (ok) joined += 1;
      else failed += 1;
      resolve();
    };
    ws.on("message", (data) => {
      const text = data.toString();
      if (text === "2") ws.send("3");
      else if (text.startsWith("0")) ws.send("40");
      else if (text.startsWith("40")) ws.send('420["join-global-notifications"]');
      else if (text.startsWith("430")) finish(true);
    });
    ws.on("error", () => finish(false));
    ws.on("close", () => finish(false));
  });
}

await sleep(500);
const before = rssKiB();
const started = Date.now();
for (let opened = 0; opened < count; opened += 250) {
  await Promise.all(Array.from({ length: Math.min(250, count - opened) }, open));
}
const openMs = Date.now() - started;
await sleep(settleMs);
const after = rssKiB();
console.log(
  JSON.stringify({
    connections: joined,
    failed,
    rssBeforeKiB: before,
    rssAfterKiB: after,
    kibPerConnection: Number(((after - before) / joined).toFixed(2)),
    openMs,
  }),
);
process.exit(0);
