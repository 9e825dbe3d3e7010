// The /test page in a real headless browser (Debian's Chromium driven by
// playwright-core): connect, join both topics, send a notification from the
// page's own form, and see it arrive in the event log.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";
import { startHerald } from "./lib/herald.mjs";

const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const args = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
  "--disable-quic",
  "--disable-dev-shm-usage",
];

const cleanup = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

test("the test page shows a notification posted from its form and one posted with curl", async () => {
  assert.ok(existsSync(executablePath), `Chromium not found at ${executablePath} (scripts/test.sh installs it)`);
  const herald = await startHerald();
  const browser = await chromium.launch({ executablePath, args });
  cleanup.push(() => browser.close());
  const page = await browser.newPage();
  const failures = [];
  page.on("requestfailed", (request) => failures.push(request.url()));

  await page.goto(`${herald.url}/test`);
  await page.fill("#business-id", "b7");
  await page.fill("#location-id", "l7");
  await page.click("#connect");
  await page.waitForSelector('#channels li.joined[data-topic="resources:b7-l7"]', { timeout: 5000 });
  await page.waitForSelector('#channels li.joined[data-topic="resources:b7"]', { timeout: 5000 });
  assert.equal((await page.textContent("#state")).trim(), "connected");

  await page.selectOption("#notification-type", "resource_updated");
  await page.fill("#resource-id", "r-77");
  await page.click("#send-notification");
  await page.waitForFunction(() => document.querySelectorAll("#events li").length >= 2, null, { timeout: 5000 });
  const result = await page.textContent("#notify-result");
  assert.match(result, /^202/);
  const logged = await page.$$eval("#events li", (items) => items.map((item) => item.textContent));
  assert.ok(logged.every((text) => text.includes("resource_update") && text.includes("r-77")), logged.join("\n"));
  assert.ok(logged.some((text) => text.includes("resources:b7-l7")));
  assert.ok(logged.some((text) => text.includes("resources:b7") && !text.includes("resources:b7-")));

  // As a backend would: a plain HTTP POST shows up too.
  const posted = await herald.post("/api/notifications", {
    type: "resource_deleted",
    resourceType: "table",
    businessId: "b7",
    locationId: "l7",
    resourceId: "from-curl",
    shardId: "s1",
    timestamp: new Date().toISOString(),
  });
  assert.equal(posted.status, 202);
  await page.waitForFunction(() => document.querySelector("#events").textContent.includes("from-curl"), null, {
    timeout: 5000,
  });
  assert.equal((await page.textContent("#event-count")).trim(), "4");
  await page.screenshot({ path: process.env.TESTPAGE_SCREENSHOT || "/tmp/herald-testpage.png", fullPage: true });
  assert.deepEqual(failures, [], "every asset is served by Herald");
});
