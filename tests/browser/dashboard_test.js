// Browser test: the real callsignd (dev mode, 3-second phone-token period) and Debian's chromium
// driven by npm playwright-core (never a downloaded browser). A customer opens the dashboard
// through the demo identity picker; the code shown equals GET /v1/me/phone-token and changes at
// the step boundary; an agent verifies it from the agent page in a second browser context; the
// dashboard shows the verification without a reload. Screenshots go to --artifacts DIR.
// Usage: node dashboard_test.js --callsignd PATH --callsign PATH --web-root DIR --artifacts DIR
"use strict";

const path = require("path");
const { sleep, check, browserTest } = require("./browser_server");

const PERIOD = 3;

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

async function checkHeaders(S) {
  for (const [p, type] of [["/", "text/html"], ["/agent", "text/html"], ["/admin", "text/html"],
                           ["/static/common.js", "text/javascript"], ["/static/style.css", "text/css"]]) {
    const res = await S.request("GET", p);
    check(res.status === 200, `GET ${p}: ${res.status}`);
    check((res.headers.get("content-type") || "").startsWith(type), `GET ${p} content-type ${res.headers.get("content-type")}`);
    check(res.headers.get("content-security-policy") === CSP, `GET ${p} CSP: ${res.headers.get("content-security-policy")}`);
    check(res.headers.get("x-frame-options") === "DENY", `GET ${p} X-Frame-Options`);
    check(res.headers.get("cache-control") === "no-store", `GET ${p} Cache-Control`);
    check(res.headers.get("referrer-policy") === "no-referrer", `GET ${p} Referrer-Policy`);
  }
  for (const p of ["/static/missing.js", "/static/Common.js", "/static/common.html", "/static/.js",
                   "/static/..%2fdashboard.html", "/static/%2e%2e%2fadmin.html", "/static/a.b.js", "/static/common.js.map"]) {
    const res = await S.request("GET", p);
    check(res.status === (/%2f/i.test(p) ? 400 : 404), `GET ${p}: ${res.status}`);  // 400: an escaped '/' (router)
    check((res.headers.get("content-type") || "").startsWith("application/problem+json"), `GET ${p}: not problem+json`);
  }
  const bad = await S.request("POST", "/v1/dev/token", { role: "wizard", sub: "x" });
  check(bad.status === 400, "dev token with a bad role: " + bad.status);
}

browserTest({ period: PERIOD }, async ({ S, browser, artifacts, watch }) => {
  await checkHeaders(S);
  console.log("PASS page and static headers, strict static names, 404 problems");

  const admin = S.token("admin", "ops-1");
  const put = await S.request("PUT", "/v1/users/u-browser", { email: "browser@example.com", phone_support: true }, admin);
  check(put.status === 201 || put.status === 200, "PUT user: " + put.status + " " + put.text);
  const customer = S.token("customer", "u-browser");

  // 1. The customer opens the dashboard and picks a demo identity.
  const customerCtx = await browser.newContext();
  const dash = await customerCtx.newPage();
  watch(dash, "dashboard");
  await dash.goto(S.base + "/");
  await dash.waitForSelector("#dev-form:not([hidden])", { timeout: 15000 });
  await dash.fill("#dev-sub", "u-browser");
  await dash.click("#dev-go");
  await dash.waitForFunction(() => document.getElementById("stream-status").textContent === "live", null,
                             { timeout: 20000 });
  check((await dash.textContent("#whoami")) === "customer u-browser", "whoami: " + (await dash.textContent("#whoami")));

  // 2. The shown code equals the API's (retry when a boundary falls between the two reads).
  let shownStep = null;
  for (let attempt = 0; attempt < 5 && shownStep === null; attempt++) {
    const api = await S.request("GET", "/v1/me/phone-token", undefined, customer);
    check(api.status === 200, "GET /v1/me/phone-token: " + api.status);
    const shown = await dash.textContent("#code");
    const step = Number(await dash.getAttribute("#code", "data-step"));
    if (step === api.body.step) {
      check(shown === api.body.token, `dashboard shows ${shown}, API says ${api.body.token}`);
      check(shown === S.phoneToken("u-browser", step), "dashboard code differs from callsign phone-token");
      shownStep = step;
    } else {
      await sleep(200);
    }
  }
  check(shownStep !== null, "dashboard and API never agreed on the step");
  const countdown = Number(await dash.textContent("#countdown"));
  check(countdown >= 0 && countdown <= PERIOD, "countdown " + countdown);
  await dash.screenshot({ path: path.join(artifacts, "1-dashboard.png"), fullPage: true });
  console.log("PASS the dashboard shows the API's code");

  // 3. The code changes at the boundary, pushed over the stream.
  await dash.waitForFunction((s) => Number(document.getElementById("code").dataset.step) > s, shownStep,
                             { timeout: (PERIOD * 2 + 3) * 1000 });
  const nextStep = Number(await dash.getAttribute("#code", "data-step"));
  const nextCode = await dash.textContent("#code");
  check(nextStep === shownStep + 1 || nextStep === shownStep + 2, `step went from ${shownStep} to ${nextStep}`);
  check(nextCode === S.phoneToken("u-browser", nextStep), "boundary code differs from callsign phone-token");
  await dash.screenshot({ path: path.join(artifacts, "2-dashboard-next-step.png"), fullPage: true });
  console.log("PASS the code changes at the step boundary");

  // 4. An agent, in a second browser context, verifies the code from the agent page.
  const agentCtx = await browser.newContext();
  const agent = await agentCtx.newPage();
  watch(agent, "agent");
  await agent.goto(S.base + "/agent");
  await agent.waitForSelector("#dev-form:not([hidden])", { timeout: 15000 });
  await agent.fill("#dev-sub", "agent-b");
  await agent.click("#dev-go");
  await agent.waitForFunction(() => document.getElementById("whoami").textContent === "agent agent-b", null,
                              { timeout: 10000 });
  // First a wrong code: shown as invalid.
  const current = await dash.textContent("#code");
  const wrong = String((Number(current) + 1) % 1000000).padStart(6, "0");
  await agent.selectOption("#by", "user");
  await agent.fill("#target", "u-browser");
  await agent.fill("#code", wrong);
  await agent.click("#verify");
  await agent.waitForSelector("#result[data-outcome='invalid']", { timeout: 10000 });
  // Then the code the customer reads out.
  await agent.fill("#target", "browser@example.com");
  await agent.selectOption("#by", "email");
  await agent.fill("#code", await dash.textContent("#code"));
  await agent.click("#verify");
  await agent.waitForSelector("#result[data-outcome='valid']", { timeout: 10000 });
  await agent.screenshot({ path: path.join(artifacts, "3-agent-valid.png"), fullPage: true });
  console.log("PASS the agent page verifies the code and shows invalid/valid");

  // 5. The dashboard shows the verification without a reload.
  await dash.waitForSelector("#verifications li[data-agent='agent-b']", { timeout: 10000 });
  check(await dash.isHidden("#verifications-empty"), "the empty-list note is still shown");
  await dash.screenshot({ path: path.join(artifacts, "4-dashboard-verified.png"), fullPage: true });
  console.log("PASS the dashboard shows the verification live");

  // After a reload the list is filled from GET /v1/me/audit.
  await dash.reload();
  await dash.waitForSelector("#verifications li[data-agent='agent-b']", { timeout: 10000 });
  console.log("PASS the verification is listed from the audit trail after a reload");

  // Authenticator setup: the QR code is a data: image (the CSP holds), the secret is shown,
  // and a code from `callsign code` confirms it.
  await dash.click("#auth-start");
  await dash.waitForSelector("#auth-setup:not([hidden])", { timeout: 10000 });
  const qr = await dash.getAttribute("#auth-qr", "src");
  check(qr.startsWith("data:image/svg+xml;base64,"), "QR src " + qr.slice(0, 40));
  await dash.waitForFunction(() => document.getElementById("auth-qr").naturalWidth > 0, null, { timeout: 5000 });
  const secret = (await dash.textContent("#auth-secret")).trim();
  check(/^[A-Z2-7]{16,}$/.test(secret), "secret " + secret);
  const appCode = S.cli(["code", "--secret", "-"], secret + "\n");
  await dash.fill("#auth-code", appCode);
  await dash.click("#auth-confirm button");
  await dash.waitForFunction(() => /is active/.test(document.getElementById("auth-status").textContent), null,
                             { timeout: 10000 });
  await dash.screenshot({ path: path.join(artifacts, "5-dashboard-authenticator.png"), fullPage: true });
  console.log("PASS authenticator setup: QR, secret, confirm");

  // The admin console lists the journal, filtered by user.
  const adminPage = await (await browser.newContext()).newPage();
  watch(adminPage, "admin");
  await adminPage.goto(S.base + "/admin");
  await adminPage.waitForSelector("#dev-form:not([hidden])", { timeout: 15000 });
  await adminPage.click("#dev-go");
  await adminPage.fill("#audit-user", "u-browser");
  await adminPage.click("#audit-form button[type=submit]");
  await adminPage.waitForFunction(() => [...document.querySelectorAll("#audit-rows td")]
    .some((td) => td.textContent === "verify"), null, { timeout: 10000 });
  await adminPage.screenshot({ path: path.join(artifacts, "6-admin-audit.png"), fullPage: true });
  console.log("PASS the admin console shows the user's audit entries");
});
