// Browser test: how the dashboard shows a stream that callsignd ends for good (issue 16, defect 2;
// docs/stream.md, "Expiry and access"). The real callsignd (dev mode, 2-second period, 1-second
// auth leeway) and Debian's chromium through npm playwright-core. (1) A customer token that
// expires while the page is open: at exp + leeway the page takes the code off, says the sign-in
// expired, and opens no new stream. (2) An admin turns the customer's phone support off: by the
// second boundary the page says phone codes are off, with no code shown and no reconnect.
// Usage: node dashboard_stream_end_test.js --callsignd PATH --callsign PATH --web-root DIR --artifacts DIR
"use strict";

const path = require("path");
const { check, browserTest, signedInContext } = require("./browser_server");

const PERIOD = 2;
const LEEWAY = 1;
const TTL = 6;  // long enough for chromium to open the page before the token expires
// A reconnect is a timer of at most 30 s plus 250 ms of jitter (the back-off's ceiling): the
// page's clock is jumped past it after the end, so a reconnect, had one been scheduled, would
// have started by then; no real time is waited.
const LONGEST_BACKOFF_MS = 30000 + 250;

// A dashboard page signed in with `token` (stored as the embedding application would), counting
// the streams it opens in the page itself (window.streams), on playwright's clock (time flows
// until the test jumps it).
async function openDashboard(browser, S, token, watch, name) {
  const ctx = await signedInContext(browser, token, { fakeClock: true });
  const page = await ctx.newPage();
  watch(page, name);
  await page.goto(S.base + "/");
  await page.waitForFunction(() => document.getElementById("stream-status").textContent === "live", null,
                             { timeout: 20000 });
  check(/^\d{6,8}$/.test(await page.textContent("#code")), "no code shown: " + (await page.textContent("#code")));
  return page;
}

// The ended state: status "ended", no code, no countdown, and the reason; a screenshot to `shot`.
async function checkEnded(page, reason, shot) {
  await page.screenshot({ path: shot, fullPage: true });
  check((await page.textContent("#code")) === "------", "code still shown: " + (await page.textContent("#code")));
  check((await page.textContent("#countdown")) === "–", "countdown: " + (await page.textContent("#countdown")));
  const why = await page.textContent("#code-error");
  check(reason.test(why), "reason shown: " + JSON.stringify(why));
  const before = await page.evaluate(() => window.streams);
  await page.clock.fastForward(LONGEST_BACKOFF_MS);  // fires a reconnect timer, had one been set
  const after = await page.evaluate(() => window.streams);
  check(after === before, `the page opened ${after - before} new stream(s) after the end`);
  check((await page.textContent("#stream-status")) === "ended", "status: " + (await page.textContent("#stream-status")));
}

browserTest({ period: PERIOD, config: `\n[auth]\nleeway_seconds = ${LEEWAY}\n` },
            async ({ S, browser, artifacts, watch }) => {
  const admin = S.token("admin", "ops-1");
  for (const id of ["u-expiring", "u-revoked"]) {
    const put = await S.request("PUT", "/v1/users/" + id, { email: id + "@example.com", phone_support: true }, admin);
    check(put.status === 201 || put.status === 200, "PUT user: " + put.status + " " + put.text);
  }

  // 1. The token expires while the page is open.
  const short = S.token("customer", "u-expiring", TTL);
  const exp = JSON.parse(Buffer.from(short.split(".")[1], "base64url").toString("utf8")).exp;
  const expiring = await openDashboard(browser, S, short, watch, "expiring");
  check(Date.now() < (exp + LEEWAY) * 1000, "the page went live only after the token expired; raise TTL");
  await expiring.waitForFunction(() => document.getElementById("stream-status").textContent === "ended", null,
                                 { timeout: Math.max((exp + LEEWAY) * 1000 - Date.now(), 0) + 5000 });
  await checkEnded(expiring, /sign-in has expired/, path.join(artifacts, "end-1-expired.png"));
  console.log("PASS an expired token: the page says so, shows no code and does not reconnect");

  // 2. Phone support turned off while the page is open.
  const revoked = await openDashboard(browser, S, S.token("customer", "u-revoked"), watch, "revoked");
  const off = await S.request("PUT", "/v1/users/u-revoked", { email: "u-revoked@example.com", phone_support: false }, admin);
  check(off.status === 200, "PUT phone_support false: " + off.status + " " + off.text);
  await revoked.waitForFunction(() => document.getElementById("stream-status").textContent === "ended", null,
                                { timeout: 2 * PERIOD * 1000 + 5000 });
  await checkEnded(revoked, /^Phone codes are off: phone support is not enabled for your account\.$/,
                   path.join(artifacts, "end-2-phone-support-off.png"));
  console.log("PASS phone support turned off: the page says so, shows no code and does not reconnect");
});
