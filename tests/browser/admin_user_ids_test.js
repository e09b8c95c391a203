// Browser test (issue 17): the admin console creates a user whose id holds '@' and ':'. The page
// sends the id through encodeURIComponent (web/static/admin.js), so the server sees
// /v1/users/desk%40corp%3A7 and the router must decode it. Then: the page's email lookup shows the
// id, GET /v1/users/{id} answers it, the agent page verifies that user's phone code by id, and
// the admin page's audit filter lists the user's create and verify entries.
// Usage: node admin_user_ids_test.js --callsignd PATH --callsign PATH --web-root DIR --artifacts DIR
"use strict";

const path = require("path");
const { check, browserTest } = require("./browser_server");

const PERIOD = 3;
const USER = "desk@corp:7";
const EMAIL = "desk7@example.com";

browserTest({ period: PERIOD }, async ({ S, browser, artifacts, watch }) => {
  // 1. The admin console creates the user through its form.
  const admin = await (await browser.newContext()).newPage();
  watch(admin, "admin");
  await admin.goto(S.base + "/admin");
  await admin.waitForSelector("#dev-form:not([hidden])", { timeout: 15000 });
  await admin.click("#dev-go");
  await admin.waitForFunction(() => /^admin /.test(document.getElementById("whoami").textContent), null,
                              { timeout: 10000 });
  await admin.fill("#user-id", USER);
  await admin.fill("#user-email", EMAIL);
  await admin.click("#user-form button[type=submit]");
  await admin.waitForFunction(() => /^(Created|Updated|Failed)/.test(document.getElementById("user-result").textContent),
                              null, { timeout: 10000 });
  const created = await admin.textContent("#user-result");
  await admin.screenshot({ path: path.join(artifacts, "1-admin-created.png"), fullPage: true });
  check(created.startsWith("Created: "), "the admin page says: " + created);
  check(JSON.parse(created.slice("Created: ".length)).id === USER, "created id: " + created);
  console.log("PASS the admin page creates " + USER);

  // 2. The page's email lookup shows the id as it was typed; so does GET /v1/users/{id}.
  await admin.fill("#lookup-email", EMAIL);
  await admin.click("#lookup-form button[type=submit]");
  await admin.waitForFunction(() => /^(\{|Not found)/.test(document.getElementById("user-result").textContent),
                              null, { timeout: 10000 });
  const lookup = await admin.textContent("#user-result");
  check(lookup.startsWith("{"), "the lookup says: " + lookup);
  const found = JSON.parse(lookup);
  check(found.id === USER, "lookup shows id " + found.id);
  const read = await S.request("GET", "/v1/users/" + encodeURIComponent(USER), undefined, S.token("admin", "ops-1"));
  check(read.status === 200 && read.body.id === USER, `GET /v1/users/{id}: ${read.status} ${read.text}`);
  console.log("PASS the lookup and GET /v1/users/{id} give back " + USER);

  // 3. The agent page verifies the user's current phone code by id.
  const agent = await (await browser.newContext()).newPage();
  watch(agent, "agent");
  await agent.goto(S.base + "/agent");
  await agent.waitForSelector("#dev-form:not([hidden])", { timeout: 15000 });
  await agent.click("#dev-go");
  await agent.waitForFunction(() => /^agent /.test(document.getElementById("whoami").textContent), null,
                              { timeout: 10000 });
  await agent.fill("#target", USER);
  await agent.selectOption("#by", "user");
  // The previous step is accepted too, so a boundary between here and the click is harmless.
  await agent.fill("#code", S.phoneToken(USER, Math.floor(Date.now() / 1000 / PERIOD)));
  await agent.click("#verify");
  await agent.waitForSelector("#result[data-outcome='valid']", { timeout: 10000 });
  const shown = await agent.textContent("#result");
  check(shown.includes("user " + USER), "agent page shows: " + shown);
  await agent.screenshot({ path: path.join(artifacts, "2-agent-valid.png"), fullPage: true });
  console.log("PASS the agent page verifies " + USER);

  // 4. The admin page's audit filter lists the user's entries.
  await admin.fill("#audit-user", USER);
  await admin.click("#audit-form button[type=submit]");
  await admin.waitForFunction(() => {
    const cells = [...document.querySelectorAll("#audit-rows td")].map((td) => td.textContent);
    return cells.includes("user.create") && cells.includes("verify");
  }, null, { timeout: 10000 });
  const subjects = await admin.$$eval("#audit-rows tr", (rows) => rows.map((r) => r.children[4].textContent));
  check(subjects.length > 0 && subjects.every((s) => s === USER), "audit subjects: " + subjects.join(", "));
  await admin.screenshot({ path: path.join(artifacts, "3-admin-audit.png"), fullPage: true });
  console.log("PASS the admin audit filter lists " + USER + "'s entries");

  // 5. "Next page" pages the query that was searched, even after the form changed. 30 wrong
  // codes (a ticket with a space and an "=") give the user more entries than one page of 25.
  const agentToken = S.token("agent", "agent-pager");
  for (let i = 0; i < 30; ++i) {
    const res = await S.request("POST", "/v1/verify", { user: USER, code: "000000", ticket: "T " + i + " x=y" },
                                agentToken);
    check(res.status === 200 || res.status === 429, "wrong code " + i + ": " + res.status + " " + res.text);
  }
  await admin.selectOption("#audit-limit", "25");
  await admin.click("#audit-form button[type=submit]");
  await admin.waitForFunction(() => document.querySelectorAll("#audit-rows tr").length === 25 &&
                                    !document.getElementById("audit-next").disabled, null, { timeout: 10000 });
  const firstPage = await admin.$$eval("#audit-rows tr", (rows) => rows.map((r) => r.children[0].textContent));
  const ticket = await admin.$$eval("#audit-rows tr", (rows) => rows.map((r) => r.children[6].textContent)
    .find((d) => d.includes("ticket=")));
  check(/ticket="T \d+ x=y"/.test(ticket), "a detail with a space and '=' is quoted: " + ticket);
  await admin.fill("#audit-user", "someone-else");
  await admin.click("#audit-next");
  await admin.waitForFunction((first) => {
    const rows = [...document.querySelectorAll("#audit-rows tr")];
    return rows.length > 0 && !first.includes(rows[0].children[0].textContent);
  }, firstPage, { timeout: 10000 });
  const next = await admin.$$eval("#audit-rows tr", (rows) => rows.map((r) => r.children[4].textContent));
  check(next.every((s) => s === USER), "the next page kept the searched user: " + next.join(", "));
  console.log("PASS the next page keeps the searched query; details with spaces are quoted");
});
