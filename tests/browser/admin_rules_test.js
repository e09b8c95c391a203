// Browser test (issue 19): the admin console's rules panel. Rules typed into the editor are
// installed (version 1, in the table); a syntax error is shown at its rule, line and column (the
// line quoted with a caret under the column, the rule's row marked) and changes nothing (version
// and SHA-256 as before); a shadow rule counts hits in the table and on the live rule-hits chart
// without deciding, and the sample-request test names it as a shadow match; turning shadow off from its toggle makes it
// block.
// Usage: node admin_rules_test.js --callsignd PATH --callsign PATH --web-root DIR --artifacts DIR
"use strict";

const path = require("path");
const { check, browserTest } = require("./browser_server");

const RULES = `[[rule]]
id = "shadow-curl"
description = "curl would be blocked, once trusted"
expression = 'lower(http.user_agent) contains "curl"'
action = "block"
shadow = true

[[rule]]
id = "test-net"
expression = "ip.src in {192.0.2.0/24}"
action = "block"
`;
// The same with an unknown field in test-net's expression (line 10).
const BROKEN = RULES.replace('expression = "ip.src in {192.0.2.0/24}"',
                             'expression = "ip.src in {192.0.2.0/24} and bot.scor < 3"');

async function rulesNow(S, admin) {
  const res = await S.request("GET", "/v1/admin/rules", undefined, admin);
  check(res.status === 200, "GET /v1/admin/rules: " + res.status + " " + res.text);
  return res.body;
}

browserTest({ period: 30 }, async ({ S, browser, artifacts, watch }) => {
  const admin = S.token("admin", "ops-check");
  const service = S.token("service", "login-frontend");
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
  watch(page, "admin");
  await page.goto(S.base + "/admin");
  await page.waitForSelector("#dev-form:not([hidden])", { timeout: 15000 });
  await page.click("#dev-go");
  await page.waitForFunction(() => document.getElementById("rules").dataset.version === "0", null, { timeout: 10000 });

  // 1. Install from the editor.
  await page.fill("#rules-text", RULES);
  await page.click("#rules-save");
  await page.waitForFunction(() => document.getElementById("rules").dataset.version === "1", null, { timeout: 10000 });
  const installed = await rulesNow(S, admin);
  check(installed.version === 1 && installed.rules.map((r) => r.id).join() === "shadow-curl,test-net",
        "installed: " + JSON.stringify(installed.rules));
  check(await page.getAttribute('#rules-rows tr[data-rule="shadow-curl"]', "data-shadow") === "true", "shadow row");
  console.log("PASS the editor installs version 1 with both rules");

  // 2. A syntax error: shown at its rule, line and column; nothing changes.
  await page.fill("#rules-text", BROKEN);
  await page.click("#rules-save");
  await page.waitForSelector("#rules-error:not([hidden])", { timeout: 10000 });
  const lines = BROKEN.split("\n");
  const line = lines.findIndex((l) => l.includes("bot.scor")) + 1;
  const column = lines[line - 1].indexOf("bot.scor") + 1;
  const shown = await page.evaluate(() => {
    const box = document.getElementById("rules-error");
    return { rule: box.dataset.rule, line: Number(box.dataset.line), column: Number(box.dataset.column),
             text: document.getElementById("rules-error-text").textContent,
             quoted: box.querySelector(".error-line").textContent, caret: box.querySelector(".caret").textContent,
             row: document.querySelector('#rules-rows tr[data-rule="test-net"]').classList.contains("invalid"),
             cursor: document.getElementById("rules-text").selectionStart };
  });
  check(shown.rule === "test-net" && shown.line === line && shown.column === column,
        `error at ${shown.rule} ${shown.line}:${shown.column}, expected test-net ${line}:${column}`);
  check(shown.text.includes("Rule test-net, line " + line + ", column " + column), "error text: " + shown.text);
  check(shown.quoted.endsWith(lines[line - 1]) && shown.quoted.startsWith(String(line).padStart(4, " ")),
        "quoted line: " + shown.quoted);
  check(shown.caret.indexOf("^") === shown.quoted.indexOf("bot.scor"), "caret under the column:\n" + shown.quoted +
        "\n" + shown.caret);
  check(shown.row, "the rule's row is marked");
  check(shown.cursor === BROKEN.indexOf("bot.scor"), "the editor's cursor at the error: " + shown.cursor);
  const after = await rulesNow(S, admin);
  check(after.version === 1 && after.sha256 === installed.sha256, "a refused set changed the rules");
  check(/unchanged/.test(await page.textContent("#rules-status")), "the status says nothing changed");
  await page.screenshot({ path: path.join(artifacts, "1-syntax-error.png"), fullPage: true });
  console.log(`PASS the syntax error is shown at test-net, line ${line}, column ${column}; version 1 serves`);
  await page.click("#rules-reset");

  // 3. The shadow rule counts hits without deciding.
  for (let i = 0; i < 3; ++i) {
    const res = await S.request("POST", "/v1/login/check",
                                { ip: "198.51.100.9", user_agent: "curl/8.5", path: "/login" }, service);
    check(res.status === 200 && res.body.decision.action === "allow" && res.body.shadow_rules.includes("shadow-curl"),
          "a shadow match must not decide: " + res.text);
  }
  await page.click("#rules-refresh");
  await page.waitForFunction(() =>
    document.querySelector('#rules-rows tr[data-rule="shadow-curl"] td.shadow-hits').textContent === "3",
    null, { timeout: 10000 });
  check(await page.textContent('#rules-rows tr[data-rule="shadow-curl"] td.hits') === "0", "no enforced hits");
  // The live chart of rule hits draws them too, as the rule's shadow series.
  await page.waitForFunction(() => {
    const entry = window.CallsignAdmin.live.charts.rules;
    if (!entry) return false;
    const i = entry.plot.series.findIndex((s) => s.label === "shadow-curl (shadow)");
    return i > 0 && entry.plot.data[i].reduce((a, b) => a + (b || 0), 0) === 3;
  }, null, { timeout: 5000 });
  const enforced = await page.evaluate(() => {
    const entry = window.CallsignAdmin.live.charts.rules;
    const i = entry.plot.series.findIndex((s) => s.label === "shadow-curl");
    return i > 0 ? entry.plot.data[i].reduce((a, b) => a + (b || 0), 0) : 0;  // drawn once it has hits
  });
  check(enforced === 0, "the chart's enforced hits of shadow-curl: " + enforced);
  // The sample-request test against the serving set names the shadow match, and decides nothing.
  await page.uncheck("#rt-draft");
  await page.fill("#rt-ip", "198.51.100.9");
  await page.fill("#rt-user-agent", "curl/8.5");
  await page.click("#rules-test-form button[type=submit]");
  await page.waitForFunction(() => document.getElementById("rules-test-result").dataset.action, null, { timeout: 10000 });
  const tested = await page.textContent("#rules-test-result");
  check(/Shadow matches: shadow-curl/.test(tested) && /Decision: (allow|none)/.test(tested), "test result: " + tested);
  await page.screenshot({ path: path.join(artifacts, "2-shadow-hits.png"), fullPage: true });
  console.log("PASS the shadow rule counts 3 hits without blocking; the sample test names it");

  // 4. Its toggle turns shadow off: the next curl login is blocked by it.
  await page.uncheck('#rules-rows tr[data-rule="shadow-curl"] input.shadow-toggle');
  await page.waitForFunction(() => /^shadow-curl /.test(document.getElementById("rules-status").textContent), null,
                             { timeout: 10000 });
  const toggled = await page.textContent("#rules-status");
  check(toggled === "shadow-curl now acts (version 2).", "after the toggle: " + toggled);
  await page.waitForFunction(() => document.getElementById("rules").dataset.version === "2", null, { timeout: 10000 });
  check(await page.getAttribute('#rules-rows tr[data-rule="shadow-curl"]', "data-shadow") === "false", "toggle off");
  const res = await S.request("POST", "/v1/login/check", { ip: "198.51.100.9", user_agent: "curl/8.5" }, service);
  check(res.status === 200 && res.body.decision.action === "block" && res.body.decision.rule_id === "shadow-curl",
        "after the toggle: " + res.text);
  await page.screenshot({ path: path.join(artifacts, "3-shadow-off.png"), fullPage: true });
  console.log("PASS the shadow toggle installs version 2, and the rule then blocks");
});
