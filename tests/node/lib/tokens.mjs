// Signing test tokens the way the web apps' backends issue them (HS256).
import { createHmac } from "node:crypto";

const b64url = (value) => Buffer.from(value).toString("base64url");

/** An HS256 JWT for `claims` (valid for an hour unless `exp` is given). */
export function signJwt(secret, claims) {
  const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = b64url(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims }));
  const signature = createHmac("sha256", secret).update(`${header}.${body}`).digest("base64url");
  return `${header}.${body}.${signature}`;
}
