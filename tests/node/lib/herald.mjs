// Starts a real Herald binary for a test, on a free loopback port, and stops
// only the processes it started: every Herald started through this module is
// killed (SIGKILL) after the importing test file's last test, so test files
// need no cleanup of their own for it.
import { after } from "node:test";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "../../..");
const binary = process.env.HERALD_BIN || path.join(repoRoot, "target/debug/herald");

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolve when `predicate()` is true, or fail after `timeoutMs` naming `what`. */
export async function waitFor(what, predicate, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

let databases = 0;

/** Every Herald this test file started and has not seen exit. */
const running = new Set();
after(async () => {
  for (const herald of running) await herald.kill9();
});

export async function startHerald(env = {}, port = undefined) {
  port = port ?? (await freePort());
  if (!env.DATABASE_URL) {
    // A fresh SQLite file per Herald (kept across restart(), which reuses env),
    // never the default herald.db in the working directory.
    const file = path.join(os.tmpdir(), `herald-node-${process.pid}-${port}-${databases++}.db`);
    env = { ...env, DATABASE_URL: `sqlite://${file}` };
    process.once("exit", () => {
      for (const suffix of ["", "-wal", "-shm"]) rmSync(file + suffix, { force: true });
    });
  }
  const child = spawn(binary, ["serve"], {
    env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  // Killed through `child`, not `herald` (not built yet if Herald never
  // becomes healthy below).
  const tracked = {
    kill9: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      return exited;
    },
  };
  running.add(tracked);
  exited.then(() => running.delete(tracked));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    `herald on ${url}`,
    async () => {
      try {
        return (await fetch(`${url}/health`)).ok;
      } catch {
        return false;
      }
    },
    15000,
  );
  const herald = {
    port,
    url,
    wsUrl: `ws://127.0.0.1:${port}`,
    child,
    exited,
    /** Graceful stop (SIGTERM); resolves with the exit status. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
    /** Hard kill (SIGKILL), as a crash would. */
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      return exited;
    },
    /** A new Herald on the same port. */
    async restart() {
      await herald.kill9();
      return startHerald(env, port);
    },
    post: (pathName, body, headers = {}) => post(url, pathName, body, headers),
  };
  return herald;
}

export async function post(url, pathName, body, headers = {}) {
  const response = await fetch(url + pathName, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: response.status, body: json, text };
}

/** Collects events for assertions with bounded waits. */
export class Inbox {
  constructor() {
    this.items = [];
  }
  push(item) {
    this.items.push(item);
  }
  async waitForCount(count, what = "messages", timeoutMs = 5000) {
    await waitFor(`${count} ${what} (have ${this.items.length})`, () => this.items.length >= count, timeoutMs);
    return this.items.slice(0, count);
  }
}
