// Benchmark peer: the smallest reasonable Phoenix Channels V2 server on Node's
// `ws`, i.e. what a team would write instead of Herald:
//   - /socket/websocket: phx_join (reply ok), phx_leave (reply ok +
//     phx_close), heartbeat on topic "phoenix" (reply ok); frames are
//     [join_ref, ref, topic, event, payload];
//   - POST /api/publish {"topic","event","payload"} sends
//     [null, null, topic, event, payload] to every socket joined to topic,
//     encoded once (Herald's publish API);
//   - GET /health answers 200 once listening.
// Usage: PORT=4200 node server.mjs   (listens on 127.0.0.1 only)
import http from "node:http";
import { exitOnSignals, httpHandler } from "../lib/http.mjs";
import { WebSocketServer } from "ws";

const port = Number(process.env.PORT || 4200);
/** topic -> Set of sockets */
const topics = new Map();

const server = http.createServer(
  httpHandler({
    health: () => ({ connections: wss.clients.size }),
    publish: (topic, event, payload) => {
      const sockets = topics.get(topic);
      if (!sockets) return 0;
      // Encoded once, sent to every subscriber.
      const frame = JSON.stringify([null, null, topic, event, payload]);
      let delivered = 0;
      for (const socket of sockets) {
        if (socket.readyState === socket.OPEN) {
          socket.send(frame);
          delivered += 1;
        }
      }
      return delivered;
    },
  }),
);

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 });

server.on("upgrade", (req, socket, head) => {
  if (!req.url.startsWith("/socket/websocket")) {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
});

wss.on("connection", (ws) => {
  /** topics this socket joined */
  const joined = new Set();
  ws.on("message", (data, isBinary) => {
    if (isBinary) return ws.close(1003, "binary frames are not supported");
    let msg;
    try {
      msg = JSON.parse(data.toString("utf8"));
    } catch {
      return ws.close(1007, "invalid json");
    }
    if (!Array.isArray(msg) || msg.length !== 5) return ws.close(1007, "not a phoenix message");
    const [joinRef, ref, topic, event] = msg;
    const answer = (status, response = {}) =>
      ws.send(JSON.stringify([joinRef, ref, topic, "phx_reply", { status, response }]));
    if (topic === "phoenix" && event === "heartbeat") return answer("ok");
    if (event === "phx_join") {
      joined.add(topic);
      let sockets = topics.get(topic);
      if (!sockets) topics.set(topic, (sockets = new Set()));
      sockets.add(ws);
      return answer("ok");
    }
    if (event === "phx_leave") {
      leave(ws, topic, joined);
      answer("ok");
      return ws.send(JSON.stringify([joinRef, joinRef, topic, "phx_close", {}]));
    }
    answer("error", { reason: "unhandled event" });
  });
  ws.on("close", () => {
    for (const topic of [...joined]) leave(ws, topic, joined);
  });
});

function leave(ws, topic, joined) {
  joined.delete(topic);
  const sockets = topics.get(topic);
  if (!sockets) return;
  sockets.delete(ws);
  if (sockets.size === 0) topics.delete(topic);
}

server.listen(port, "127.0.0.1", () => console.error(`node-ws peer on 127.0.0.1:${port}`));
exitOnSignals();
