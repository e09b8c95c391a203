// Browser test: the pages' live streams across a callsignd restart, and an end that is final
// (C.liveSocket in web/static/common.js; docs/stream.md, "Closes"). The real callsignd (dev mode,
// 2-second period, 1-second auth leeway) and Debian's chromium through npm playwright-core.
// (1) With the dashboard and the admin console live, callsignd is stopped with SIGTERM (a 1012
// close) and started again on the same port: each page says "reconnecting in 1 s", opens a new
// stream, goes live again and shows data from the new callsignd (the dashboard a code equal to
// `callsign phone-token` and the next step's, the console new ticks). (2) An admin token expires
// while the console is open (a 1008 close): the console says so and opens no new stream.
// A page's reconnect is a timer: the console's clock is jumped past the longest back-off (30 s)
// to fire any timer a reconnect would have set, instead of waiting. (The dashboard's 1008 ends
// are browser_dashboard_stream_end's.)
// Usage: node stream_reconnect_test.js --callsignd PATH --callsign PATH --web-root DIR --artifacts DIR
"use strict";

const path = require("path");
const { check, browserTest, signedInContext } = require("./browser_server");

const PERIOD = 2;
const LEEWAY = 1;
const TTL = 6;  // long enough for chromium to open the console before the token expires
const LONGEST_BACKOFF_MS = 30000 + 250;

// A page at `urlPath` signed in with `token`, counting the WebSockets it opens (window.streams)
// and logging every text its status element `statusId` shows (window.statusLog). `fakeClock`:
// the page's timers run on playwright's clock (time flows until the test jumps it).
async function openPage(browser, S, watch, name, { urlPath, token, statusId, fakeClock }) {
  const ctx = await signedInContext(browser, token, { fakeClock, viewport: { width: 1400, height: 1000 } });
  await ctx.addInitScript((id) => {
    window.statusLog = [];
    document.addEventListener("DOMContentLoaded", () => {
      new MutationObserver((records) => records.forEach((r) => r.addedNodes.forEach((n) => {
        window.statusLog.push(n.textContent);
      }))).observe(document.getElementById(id), { childList: true });
    });
  }, statusId);
  const page = await ctx.newPage();
  page.statusId = statusId;
  watch(page, name);
  await page.goto(S.base + urlPath);
  await waitLive(page, 20000);
  return page;
}

const streams = (page) => page.evaluate(() => window.streams);

function waitLive(page, timeout) {
  return page.waitForFunction((id) => document.getElementById(id).textContent === "live", page.statusId,
                              { timeout });
}

// The dashboard's code is callsign phone-token's for the step it names (both read at once: a
// boundary could fall between two reads).
async function checkCode(page, S, user) {
  const [step, code] = await page.evaluate(() => {
    const el = document.getElementById("code");
    return [Number(el.dataset.step), el.textContent];
  });
  check(code === S.phoneToken(user, step), `step ${step}: the dashboard shows ${code}`);
  return step;
}

browserTest({ period: PERIOD, config: `\n[auth]\nleeway_seconds = ${LEEWAY}\n` },
            async ({ S, browser, artifacts, watch }) => {
  const admin = S.token("admin", "ops-1");
  const put = await S.request("PUT", "/v1/users/u-reconnect", { email: "r@example.com", phone_support: true }, admin);
  check(put.status === 201 || put.status === 200, "PUT user: " + put.status + " " + put.text);

  // 1. Both pages live, then callsignd restarts under them.
  const dash = await openPage(browser, S, watch, "dashboard", {
    urlPath: "/", token: S.token("customer", "u-reconnect"), statusId: "stream-status" });
  const console_ = await openPage(browser, S, watch, "admin", {
    urlPath: "/admin", token: admin, statusId: "live-status" });
  await console_.waitForFunction(() => document.getElementById("live").dataset.lastTick, null, { timeout: 5000 });
  check(await streams(dash) === 1 && await streams(console_) === 1, "more than one stream before the restart");
  for (const page of [dash, console_]) await page.evaluate(() => { window.statusLog = []; });

  await S.restart();
  console.log("PASS callsignd restarted on " + S.base);
  for (const page of [dash, console_]) {
    // "live" after "reconnecting": the status of a new stream, not the old one's before its close.
    const live = await page.waitForFunction((id) => window.statusLog.includes("reconnecting in 1 s") &&
                                                    document.getElementById(id).textContent === "live",
                                            page.statusId, { timeout: 30000 }).catch(() => null);
    const log = await page.evaluate(() => window.statusLog);
    check(live, "not live again after 1 s of back-off; status texts since the restart: " + JSON.stringify(log));
    check(await streams(page) >= 2, "live again without a new stream");
    console.log("status texts since the restart: " + JSON.stringify(log));
  }
  const step = await checkCode(dash, S, "u-reconnect");
  await dash.waitForFunction((s) => Number(document.getElementById("code").dataset.step) > s, step,
                             { timeout: (PERIOD * 2 + 3) * 1000 });
  await checkCode(dash, S, "u-reconnect");
  const tick = Number(await console_.evaluate(() => document.getElementById("live").dataset.lastTick));
  await console_.waitForFunction((t) => Number(document.getElementById("live").dataset.lastTick) > t, tick,
                                 { timeout: 5000 });
  await dash.screenshot({ path: path.join(artifacts, "1-dashboard-reconnected.png"), fullPage: true });
  await console_.screenshot({ path: path.join(artifacts, "2-admin-reconnected.png"), fullPage: true });
  console.log("PASS after a restart both pages reconnect and show the new callsignd's codes and ticks");

  // 2. An admin token that expires while the console is open: a final end, no reconnect.
  const short = S.token("admin", "ops-short", TTL);
  const exp = JSON.parse(Buffer.from(short.split(".")[1], "base64url").toString("utf8")).exp;
  const ending = await openPage(browser, S, watch, "admin-expiring", {
    urlPath: "/admin", token: short, statusId: "live-status", fakeClock: true });
  check(Date.now() < (exp + LEEWAY) * 1000, "the console went live only after the token expired; raise TTL");
  // The blocks panel's refresh would meet a 401 and drop the token, and without a token no
  // reconnect is tried: the check below would then prove nothing.
  await ending.uncheck("#blocks-auto");
  const ended = "ended: token expired; get a new token";
  await ending.waitForFunction((text) => document.getElementById("live-status").textContent === text, ended,
                               { timeout: Math.max((exp + LEEWAY) * 1000 - Date.now(), 0) + 5000 });
  const stored = await ending.evaluate(() => sessionStorage.getItem("callsign.token"));
  check(stored === short, "the expired token is no longer stored: a reconnect could not be seen");
  const before = await streams(ending);
  await ending.clock.fastForward(LONGEST_BACKOFF_MS);  // fires a reconnect timer, had one been set
  const after = await streams(ending);
  check(after === before, `the console opened ${after - before} new stream(s) after the end`);
  check((await ending.textContent("#live-status")) === ended, "status: " + (await ending.textContent("#live-status")));
  await ending.screenshot({ path: path.join(artifacts, "3-admin-ended.png"), fullPage: true });
  console.log("PASS an expired admin token: the console says so and does not reconnect");
});
