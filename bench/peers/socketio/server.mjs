// Benchmark peer: the Socket.IO 4 reference server, as a Socket.IO
// notification server would run it, with what the harness needs:
//   - clients join a room with `subscribe` {channel} and get an ack {ok: true}
//     (the same event Herald's default Socket.IO vocabulary uses);
//   - POST /api/publish {"topic","event","payload"} emits `event` with
//     `payload` to room `topic` (Herald's publish API);
//   - GET /health answers 200 once listening.
// Usage: PORT=4100 node server.mjs   (listens on 127.0.0.1 only)
import http from "node:http";
import { exitOnSignals, httpHandler } from "../lib/http.mjs";
import { Server } from "socket.io";

const port = Number(process.env.PORT || 4100);

const server = http.createServer(
  httpHandler({
    health: () => ({ clients: io.engine.clientsCount }),
    publish: (topic, event, payload) => {
      const room = io.sockets.adapter.rooms.get(topic);
      io.to(topic).emit(event, payload);
      return room ? room.size : 0;
    },
  }),
);

// Socket.IO answers /socket.io/ and hands every other request to the handler above.
const io = new Server(server, { serveClient: false, cors: { origin: "*" } });

io.on("connection", (socket) => {
  socket.on("subscribe", (request, ack) => {
    const channel = request?.channel;
    if (typeof channel !== "string" || channel === "") {
      if (typeof ack === "function") ack({ ok: false, error: "invalid channel" });
      return;
    }
    socket.join(channel);
    if (typeof ack === "function") ack({ ok: true });
  });
  socket.on("unsubscribe", (request, ack) => {
    if (typeof request?.channel === "string") socket.leave(request.channel);
    if (typeof ack === "function") ack({ ok: true });
  });
});

server.listen(port, "127.0.0.1", () => console.error(`socket.io peer on 127.0.0.1:${port}`));
exitOnSignals();
