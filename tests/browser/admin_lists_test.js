// Browser test (issue 19): the admin console's lists panel. A reload (after the source file was
// written) and an upload (through XMLHttpRequest, with a progress bar) each show the list's new
// version and SHA-256, the same as GET /v1/admin/lists answers, and the upload's bar reports the
// bytes sent up to the whole file. A refused upload shows the server's problem and changes nothing.
// Usage: node admin_lists_test.js --callsignd PATH --callsign PATH --web-root DIR --artifacts DIR
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { check, browserTest } = require("./browser_server");

async function listStatus(S, admin, name) {
  const res = await S.request("GET", "/v1/admin/lists", undefined, admin);
  check(res.status === 200, "GET /v1/admin/lists: " + res.status);
  return res.body.lists.find((l) => l.name === name);
}

browserTest({ period: 30 }, async ({ S, browser, artifacts, watch }) => {
  const admin = S.token("admin", "ops-check");
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
  watch(page, "admin");
  await page.goto(S.base + "/admin");
  await page.waitForSelector("#dev-form:not([hidden])", { timeout: 15000 });
  await page.click("#dev-go");
  await page.waitForSelector('#lists-rows tr[data-list="managed_devices"]', { timeout: 10000 });
  check(await page.getAttribute('#lists-rows tr[data-list="managed_devices"]', "data-version") === "0",
        "managed_devices starts at version 0");

  // 1. Reload: the source file is written, then the row's Reload button loads it.
  const before = await listStatus(S, admin, "managed_devices");
  fs.mkdirSync(path.dirname(before.source), { recursive: true });
  fs.writeFileSync(before.source, "SERIAL-0001\nSERIAL-0002\nSERIAL-0003\n");
  await page.click('#lists-rows tr[data-list="managed_devices"] button.reload');
  await page.waitForSelector('#lists-rows tr[data-list="managed_devices"][data-version="1"]', { timeout: 10000 });
  const reloaded = await listStatus(S, admin, "managed_devices");
  check(reloaded.version === 1 && reloaded.entries === 3 && reloaded.sha256, "after the reload: " + JSON.stringify(reloaded));
  const row = '#lists-rows tr[data-list="managed_devices"]';
  check(await page.getAttribute(row + " td.sha256", "title") === reloaded.sha256, "the row's SHA-256");
  check(await page.textContent(row + " td.entries") === "3", "the row's entries");
  check(await page.textContent(row + " td.error") === "", "the row's last error is cleared");
  const said = await page.textContent("#lists-status");
  check(said.includes("version 1") && said.includes(reloaded.sha256), "the status line: " + said);
  await page.screenshot({ path: path.join(artifacts, "1-reloaded.png"), fullPage: true });
  console.log("PASS the reload shows version 1 and the list's SHA-256");

  // 2. Upload ~3 MiB of addresses to open_proxies; the progress bar's values are recorded.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "callsign-upload-"));
  try {
    const lines = [];
    for (let i = 0; i < 200000; ++i) lines.push(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    const content = lines.join("\n") + "\n";
    const file = path.join(tmp, "proxies.ipset");
    fs.writeFileSync(file, content);
    const size = Buffer.byteLength(content);
    // Every value the page gives the bar, in order.
    await page.evaluate(() => {
      window.progressSeen = [];
      const bar = document.getElementById("upload-progress");
      const orig = Object.getOwnPropertyDescriptor(HTMLProgressElement.prototype, "value");
      Object.defineProperty(bar, "value", {
        get() { return orig.get.call(this); },
        set(v) { orig.set.call(this, v); window.progressSeen.push([Number(v), Number(this.max)]); },
      });
    });
    await page.selectOption("#upload-list", "open_proxies");
    await page.setInputFiles("#upload-file", file);
    await page.click("#upload-go");
    await page.waitForFunction(() => document.getElementById("upload-status").dataset.status, null, { timeout: 60000 });
    const status = await page.textContent("#upload-status");
    const uploaded = await listStatus(S, admin, "open_proxies");
    check(await page.getAttribute("#upload-status", "data-status") === "200", "upload answered: " + status);
    check(uploaded.version === 1 && uploaded.entries === 200000, "after the upload: " + JSON.stringify(uploaded));
    check(status.includes("version 1") && status.includes(uploaded.sha256), "the upload status: " + status);
    const seen = await page.evaluate(() => window.progressSeen);
    const events = seen.filter(([v, max]) => max === size);
    check(events.some(([v]) => v === size), "the bar reached the whole file: " + JSON.stringify(seen.slice(-5)));
    check(events.every(([v], i) => i === 0 || v >= events[i - 1][0]), "the bar only moves forward");
    check(await page.getAttribute('#lists-rows tr[data-list="open_proxies"]', "data-sha256") === uploaded.sha256,
          "the table row's SHA-256");
    check(uploaded.sha256 === crypto.createHash("sha256").update(content).digest("hex"),
          "the list's SHA-256 is the uploaded file's");
    await page.screenshot({ path: path.join(artifacts, "2-uploaded.png"), fullPage: true });
    console.log("PASS the upload's progress bar reaches " + size + " bytes (" + events.length +
                " updates) and the panel shows version 1 and its SHA-256");

    // 3. A refused upload (not an address list) shows the problem; the list keeps version 1.
    const bad = path.join(tmp, "bad.ipset");
    fs.writeFileSync(bad, "192.0.2.1\nnot-an-address\n");
    await page.setInputFiles("#upload-file", bad);
    await page.click("#upload-go");
    await page.waitForFunction(() => document.getElementById("upload-status").dataset.status === "422", null,
                               { timeout: 30000 });
    const refused = await page.textContent("#upload-status");
    check(/^Upload refused: open_proxies: line 2: .*\(422\)$/.test(refused), "refusal shown: " + refused);
    const after = await listStatus(S, admin, "open_proxies");
    check(after.version === 1 && after.sha256 === uploaded.sha256, "a refused upload changed the list");
    await page.screenshot({ path: path.join(artifacts, "3-refused.png"), fullPage: true });
    console.log("PASS a refused upload shows the problem and leaves version 1 serving");
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
