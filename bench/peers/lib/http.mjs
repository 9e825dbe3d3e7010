// HTTP helpers shared by the benchmark peers: JSON replies and a bounded JSON
// body reader for their Herald-compatible POST /api/publish.

const MAX_BODY = 1 << 20;

export function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Read a JSON body; `done(err, value)`. Bodies over 1 MiB are cut off. */
export function readJson(req, done) {
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(chunk);
  });
  req.on("end", () => {
    try {
      done(null, JSON.parse(Buffer.concat(chunks).toString("utf8")));
    } catch (err) {
      done(err);
    }
  });
  req.on("error", done);
}

/**
 * The peers' HTTP handler: GET /health answers `health()`, POST /api/publish
 * calls `publish(topic, event, payload)` (returning how many subscribers got
 * it), anything else is 404.
 */
export function httpHandler({ health, publish }) {
  return (req, res) => {
    if (req.method === "GET" && req.url === "/health") return reply(res, 200, { status: "ok", ...health() });
    if (req.method === "POST" && req.url === "/api/publish") return handlePublish(req, res, publish);
    reply(res, 404, { error: { code: "not_found" } });
  };
}

/** Parse a publish request and call `publish(topic, event, payload)` -> delivered count. */
export function handlePublish(req, res, publish) {
  readJson(req, (err, body) => {
    if (err || typeof body?.topic !== "string" || typeof body?.event !== "string") {
      return reply(res, 400, { error: { code: "invalid_body" } });
    }
    const delivered = publish(body.topic, body.event, body.payload ?? {});
    reply(res, 202, { published: 1, topics: [body.topic], delivered });
  });
}

export function exitOnSignals() {
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
}
