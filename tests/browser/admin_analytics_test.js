// Browser test (issue 19): the admin console's live analytics and blocks panels. A burst of
// failed logins (POST /v1/login/result) must appear on the "failed logins and new blocks" chart
// (read from the uPlot chart's own data) within two seconds of the burst, and in the totals
// table; the block it set appears in the blocks table, is found by address and by username, and
// the unblock, once confirmed in the dialog (a cancel lifts nothing), lifts it (audited).
// Usage: node admin_analytics_test.js --callsignd PATH --callsign PATH --web-root DIR --artifacts DIR
"use strict";

const path = require("path");
const { check, browserTest } = require("./browser_server");

const IP = "203.0.113.70";
const USERNAME = "Burst.Victim@Example.org";

// The sum of a chart's series (by label) over the chart's data, as uPlot draws it.
function chartSum(page, chart, label) {
  return page.evaluate(([chart, label]) => {
    const entry = window.CallsignAdmin.live.charts[chart];
    if (!entry) return -1;
    const index = entry.plot.series.findIndex((s) => s.label === label);
    return index < 0 ? -1 : entry.plot.data[index].reduce((a, b) => a + (b || 0), 0);
  }, [chart, label]);
}

browserTest({ period: 30, config: '[login]\ntrusted_proxies = ["127.0.0.1"]\n' },
            async ({ S, browser, artifacts, watch }) => {
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
  watch(page, "admin");
  await page.goto(S.base + "/admin");
  await page.waitForSelector("#dev-form:not([hidden])", { timeout: 15000 });
  await page.click("#dev-go");
  await page.waitForFunction(() => document.getElementById("live-status").textContent === "live", null,
                             { timeout: 15000 });
  // A first tick has been drawn: the chart exists and holds no failures yet.
  await page.waitForFunction(() => document.getElementById("live").dataset.lastTick, null, { timeout: 5000 });
  check(await chartSum(page, "failures", "failed logins") === 0, "failures before the burst");
  console.log("PASS the console's stream is live and the chart starts empty");

  // The burst: 6 failures from one address (5 block it), one username among them 5 times.
  const service = S.token("service", "login-frontend");
  for (let i = 0; i < 6; ++i) {
    const res = await S.request("POST", "/v1/login/result",
                                { ip: IP, username: i < 5 ? USERNAME : "other-" + i, success: false }, service);
    check(res.status === 200, "login/result: " + res.status + " " + res.text);
  }
  const burstEnd = Date.now();
  await page.waitForFunction(() => {
    const live = window.CallsignAdmin.live;
    return live.sum("login.failures", 3600) >= 6 && live.sum("blocks.new", 3600) >= 2;
  }, null, { timeout: 10000, polling: 50 });
  const seenAfter = Date.now() - burstEnd;
  check(await chartSum(page, "failures", "failed logins") === 6, "the chart's failed logins");
  check(await chartSum(page, "failures", "new blocks") === 2, "the chart's new blocks (the address and the username)");
  check(seenAfter <= 2000, "the burst reached the chart " + seenAfter + " ms after it ended");
  const minute = await page.textContent('#live-totals tr[data-series="login.failures"] td.minute');
  check(minute === "6", "the totals table's last minute: " + minute);
  await page.screenshot({ path: path.join(artifacts, "1-burst-on-chart.png"), fullPage: true });
  console.log("PASS the burst is on the chart " + seenAfter + " ms after it ended (6 failures, 2 blocks)");

  // The blocks table lists both blocks without a click (the tick said blocks.new).
  await page.waitForSelector(`#blocks-rows tr[data-key="${IP}"]`, { timeout: 5000 });
  const keys = await page.$$eval("#blocks-rows tr", (rows) => rows.map((r) => r.dataset.key));
  check(keys.length === 2 && keys.includes(IP) && keys.some((k) => k.startsWith("user:")), "blocks: " + keys);
  const left = await page.textContent(`#blocks-rows tr[data-key="${IP}"] td.remaining`);
  check(/^(59 min|1 h)/.test(left), "remaining time: " + left);
  // Searched by username (hashed by the server): only that block.
  await page.uncheck("#blocks-auto");
  await page.fill("#blocks-username", "  burst.victim@example.ORG ");
  await page.click("#blocks-form button[type=submit]");
  await page.waitForFunction(() => document.querySelectorAll("#blocks-rows tr").length === 1 &&
                                   document.querySelector("#blocks-rows tr").dataset.key.startsWith("user:"),
                             null, { timeout: 5000 });
  await page.fill("#blocks-username", "");
  await page.fill("#blocks-ip", IP);
  await page.click("#blocks-form button[type=submit]");
  await page.waitForFunction((ip) => {
    const rows = document.querySelectorAll("#blocks-rows tr");
    return rows.length === 1 && rows[0].dataset.key === ip;
  }, IP, { timeout: 5000 });
  await page.screenshot({ path: path.join(artifacts, "2-blocks-by-ip.png"), fullPage: true });
  console.log("PASS the blocks table lists the burst's blocks, found by address and by username");

  // Unblock: a cancelled dialog lifts nothing; a confirmed one lifts the block.
  const admin = S.token("admin", "ops-check");
  await page.click(`#blocks-rows tr[data-key="${IP}"] button.unblock`);
  await page.waitForSelector("#unblock-dialog[open]", { timeout: 5000 });
  check(await page.textContent("#unblock-key") === IP, "the dialog names the key");
  await page.screenshot({ path: path.join(artifacts, "3-unblock-dialog.png"), fullPage: true });
  const deletes = [];  // every DELETE the page sends, recorded as it is sent
  page.on("request", (r) => { if (r.method() === "DELETE") deletes.push(r.url()); });
  await page.click("#unblock-cancel");
  await page.waitForFunction(() => !document.getElementById("unblock-dialog").open, null, { timeout: 5000 });
  // A search sent after the cancel was handled: a DELETE from the cancel would be recorded first.
  await Promise.all([
    page.waitForResponse((r) => r.request().method() === "GET" && r.url().includes("/v1/admin/blocks?"), { timeout: 5000 }),
    page.click("#blocks-form button[type=submit]"),
  ]);
  check(deletes.length === 0, "a cancelled dialog sent " + deletes.join(", "));
  let listed = await S.request("GET", "/v1/admin/blocks?ip=" + IP, undefined, admin);
  check(listed.status === 200 && listed.body.blocks.length === 1, "cancel must lift nothing: " + listed.text);
  await page.click(`#blocks-rows tr[data-key="${IP}"] button.unblock`);
  await page.waitForSelector("#unblock-dialog[open]", { timeout: 5000 });
  await page.click("#unblock-confirm");
  await page.waitForFunction(() => /^Lifted the block on /.test(document.getElementById("blocks-status").textContent),
                             null, { timeout: 10000 });
  check(await page.$(`#blocks-rows tr[data-key="${IP}"]`) === null, "the lifted block is still listed");
  listed = await S.request("GET", "/v1/admin/blocks?ip=" + IP, undefined, admin);
  check(listed.status === 200 && listed.body.blocks.length === 0, "after the unblock: " + listed.text);
  check(deletes.length === 1, "one DELETE for the confirmed unblock: " + deletes.join(", "));
  const audit = await S.request("GET", "/v1/audit?limit=500", undefined, admin);
  const lifts = audit.body.entries.filter((e) => e.action === "login.unblock");
  check(lifts.length === 1 && lifts[0].actor_id === "admin" && lifts[0].details.key === IP,
        "audited lifts: " + JSON.stringify(lifts));
  await page.screenshot({ path: path.join(artifacts, "4-unblocked.png"), fullPage: true });
  console.log("PASS the unblock needs its confirmation, lifts the block and is audited");
});
