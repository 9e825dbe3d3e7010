// Helpers for tests with the real `phoenix` client: sockets on a started
// Herald, joins as promises, and the V1 (JSON object) serializer.
import { Socket } from "phoenix";
import WebSocket from "ws";

/** A connected phoenix.js socket that reconnects and rejoins quickly. */
export function socketFor(h, options = {}) {
  const socket = new Socket(`${h.wsUrl}/socket`, {
    transport: WebSocket, // Node 20 has no global WebSocket
    reconnectAfterMs: () => 100,
    rejoinAfterMs: () => 100,
    ...options,
  });
  socket.connect();
  return socket;
}

/** Join `channel`; resolves with the ok reply, rejects on error or timeout. */
export function joined(channel) {
  return new Promise((resolve, reject) => {
    channel
      .join()
      .receive("ok", resolve)
      .receive("error", (reply) => reject(new Error(`join refused: ${JSON.stringify(reply)}`)))
      .receive("timeout", () => reject(new Error("join timed out")));
  });
}

/** Push `event` and resolve with `{status, response}` of the reply. */
export function pushed(channel, event, payload = {}) {
  return new Promise((resolve, reject) => {
    channel
      .push(event, payload)
      .receive("ok", (response) => resolve({ status: "ok", response }))
      .receive("error", (response) => resolve({ status: "error", response }))
      .receive("timeout", () => reject(new Error(`${event} timed out`)));
  });
}

// phoenix.js speaks V2 by default; V1 needs JSON object frames.
export const v1 = {
  vsn: "1.0.0",
  encode: (msg, callback) =>
    callback(JSON.stringify({ join_ref: msg.join_ref, ref: msg.ref, topic: msg.topic, event: msg.event, payload: msg.payload })),
  decode: (raw, callback) => callback(JSON.parse(raw)),
};

/** The serializers to run a test under, with their socket options. */
export const serializers = [
  ["V2", {}],
  ["V1", v1],
];

/** `{epoch, offset}` from a broadcast's ref `"<epoch>:<offset>"`. */
export function positionOf(ref) {
  const at = ref.lastIndexOf(":");
  return { epoch: ref.slice(0, at), offset: Number(ref.slice(at + 1)) };
}
