// Admin console, rules (docs/rules.md, docs/admin-console.md): the serving set with hit counts
// (GET /v1/admin/rules), its TOML text to edit and install (PUT /v1/admin/rules; a refusal is
// shown at its rule, line and column, and nothing changes), shadow toggles
// (POST /v1/admin/rules/{id}/shadow) and a test against a sample request (POST /v1/admin/rules/test).
"use strict";

(function () {
  const C = window.Callsign;
  const A = (window.CallsignAdmin = window.CallsignAdmin || { panels: [], tickListeners: [] });
  const $ = (id) => document.getElementById(id);
  let installedText = null;  // the serving set's text, to tell an edit from it
  let lastLoad = 0;  // when the last load started: ticks reload at most every 2 s
  let loading = false;  // a tick never starts a load while one runs

  async function send(method, path, body, contentType) {
    const headers = { Authorization: "Bearer " + C.token(), "Content-Type": contentType };
    const res = await fetch(path, { method, headers, body, cache: "no-store", credentials: "omit" });
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = { detail: text };
    }
    return { status: res.status, ok: res.ok, data };
  }

  function clearError() {
    $("rules-error").hidden = true;
    $("rules-text").classList.remove("invalid");
    document.querySelectorAll("#rules-rows tr.invalid").forEach((tr) => tr.classList.remove("invalid"));
  }

  // The refusal at its place: the line with its number, a caret under the column, the rule's row.
  function showError(problem) {
    const text = $("rules-text").value;
    const lines = text.split("\n");
    const line = Number(problem.line) || 0;
    const column = Number(problem.column) || 0;
    const box = $("rules-error");
    box.hidden = false;
    box.dataset.rule = problem.rule || "";
    box.dataset.line = String(line);
    box.dataset.column = String(column);
    $("rules-error-text").textContent = (problem.rule ? "Rule " + problem.rule + ", " : "") + "line " + line +
      ", column " + column + ": " + (problem.detail || "refused") +
      (problem.expected ? " (expected " + problem.expected + ")" : "");
    const context = $("rules-error-context");
    context.replaceChildren();
    if (line >= 1 && line <= lines.length) {
      const number = String(line).padStart(4, " ") + " | ";
      context.append(C.el("span", { class: "error-line", text: number + lines[line - 1] }), "\n",
                     C.el("span", { class: "caret", text: " ".repeat(number.length + Math.max(column - 1, 0)) + "^" }));
    }
    $("rules-text").classList.add("invalid");
    // Put the cursor at the place (columns count characters of the line, 1-based).
    if (line >= 1) {
      let offset = 0;
      for (let i = 0; i < line - 1 && i < lines.length; ++i) offset += lines[i].length + 1;
      offset += Math.max(column - 1, 0);
      $("rules-text").setSelectionRange(offset, offset);
    }
    const row = problem.rule && document.querySelector(`#rules-rows tr[data-rule="${CSS.escape(problem.rule)}"]`);
    if (row) row.classList.add("invalid");
  }

  function ruleRow(rule) {
    const tr = C.el("tr", { "data-rule": rule.id, "data-action": rule.action, "data-shadow": String(rule.shadow) });
    const toggle = C.el("input", { type: "checkbox", class: "shadow-toggle", "aria-label": "Shadow mode for " + rule.id });
    toggle.checked = !!rule.shadow;
    toggle.addEventListener("change", () => setShadow(rule.id, toggle));
    const cell = C.el("td", {});
    cell.append(toggle);
    const name = C.el("td", { class: "id", text: rule.id, title: rule.description || "" });
    tr.append(name, C.el("td", { text: rule.action }), C.el("td", { class: "expression", text: rule.expression }),
              C.el("td", { class: "hits", text: String(rule.hits) }),
              C.el("td", { class: "shadow-hits", text: String(rule.shadow_hits) }), cell);
    return tr;
  }

  async function load(keepEdit) {
    if (!C.token()) return;
    lastLoad = Date.now();
    loading = true;
    let res;
    try {
      res = await C.api("GET", "/v1/admin/rules");
    } catch (e) {
      $("rules-status").textContent = "Could not load the rules: the server is unreachable";
      return;
    } finally {
      loading = false;
    }
    if (!res.ok) {
      $("rules-status").textContent = res.status === 404 ? "Rules are not available on this server."
                                                         : "Could not load the rules: " + C.problemText(res);
      return;
    }
    const set = res.data;
    $("rules-version").textContent = "version " + set.version + (set.sha256 ? ", SHA-256 " + set.sha256.slice(0, 12) + "…" : "");
    $("rules").dataset.version = String(set.version);
    $("rules").dataset.sha256 = set.sha256 || "";
    $("rules-rows").replaceChildren(...(set.rules || []).map(ruleRow));
    $("rate-limits-from").textContent = set.rate_limits_from === "config" ? "(from [[login.rules]] in the configuration)" : "";
    $("rate-limit-rows").replaceChildren(...(set.rate_limits || []).map((r) => {
      const tr = C.el("tr", { "data-rate-limit": r.id });
      tr.append(C.el("td", { text: r.id }), C.el("td", { class: "expression", text: r.expression || "every failure" }),
                C.el("td", { text: (r.characteristics || []).join(" + ") }), C.el("td", { text: String(r.limit) }),
                C.el("td", { text: r.period + " s" }), C.el("td", { text: r.mitigation_timeout + " s" }),
                C.el("td", { text: r.shadow ? "yes" : "no" }));
      return tr;
    }));
    const edited = installedText !== null && $("rules-text").value !== installedText;
    installedText = set.text || "";
    if (!keepEdit || !edited) $("rules-text").value = installedText;
  }

  async function setShadow(id, toggle) {
    toggle.disabled = true;
    const res = await C.api("POST", "/v1/admin/rules/" + encodeURIComponent(id) + "/shadow", { shadow: toggle.checked });
    toggle.disabled = false;
    if (!res.ok) {
      toggle.checked = !toggle.checked;
      $("rules-status").textContent = "Could not change " + id + ": " + C.problemText(res);
      return;
    }
    $("rules-status").textContent = id + (toggle.checked ? " now runs in shadow mode" : " now acts") +
      " (version " + res.data.version + ").";
    await load(true);
  }

  $("rules-save").addEventListener("click", async () => {
    clearError();
    const res = await send("PUT", "/v1/admin/rules", $("rules-text").value, "application/toml");
    if (res.status === 422 && res.data) {
      showError(res.data);
      $("rules-status").textContent = "Not installed: the serving rules are unchanged.";
      return;
    }
    if (!res.ok) {
      $("rules-status").textContent = "Not installed: " + ((res.data && res.data.detail) || "HTTP " + res.status) +
        " (" + res.status + ")";
      return;
    }
    $("rules-status").textContent = res.data.changed ? "Installed version " + res.data.version + "."
                                                     : "Unchanged (version " + res.data.version + ").";
    await load(false);
  });

  $("rules-refresh").addEventListener("click", () => load(true));

  $("rules-reset").addEventListener("click", () => {
    clearError();
    $("rules-status").textContent = "";
    $("rules-text").value = installedText || "";
  });

  function sampleRequest() {
    const request = {
      ip: $("rt-ip").value.trim(),
      path: $("rt-path").value,
      method: $("rt-method").value,
      host: $("rt-host").value,
      user_agent: $("rt-user-agent").value,
      username_present: $("rt-username-present").checked,
      exposed_credential: $("rt-exposed-credential").checked,
      exposed_password: $("rt-exposed-password").checked,
      device_managed: $("rt-device-managed").checked,
      device_serial_present: $("rt-device-serial").checked,
      login_failures_ip: Number($("rt-fail-ip").value) || 0,
      login_failures_username: Number($("rt-fail-user").value) || 0,
    };
    if ($("rt-bot-score").value !== "") request.bot_score = Number($("rt-bot-score").value);
    return request;
  }

  $("rules-test-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearError();
    const body = { request: sampleRequest() };
    if ($("rt-draft").checked) body.rules = $("rules-text").value;
    const res = await C.api("POST", "/v1/admin/rules/test", body);
    const out = $("rules-test-result");
    out.hidden = false;
    if (res.status === 422 && res.data) {
      showError(res.data);
      out.dataset.action = "";
      out.textContent = "The edited rules do not compile (see above).";
      return;
    }
    if (!res.ok) {
      out.dataset.action = "";
      out.textContent = "Test failed: " + C.problemText(res);
      return;
    }
    const d = res.data.decision || {};
    out.dataset.action = d.action || "none";
    out.dataset.rule = d.rule || "";
    out.textContent = "Decision: " + (d.action ? d.action + (d.rule ? " by " + d.rule : "") : "none (no rule ended it)") +
      "\nLogged: " + ((res.data.logged || []).join(", ") || "none") +
      "\nShadow matches: " + ((res.data.shadow || []).join(", ") || "none");
  });

  // Hit counts follow the live stream: reload the table when a rule counted (at most every 2 s).
  A.onTick((tick) => {
    const hit = Object.entries(tick.values || {}).some(([name, n]) => n > 0 &&
      (name.startsWith("rule_hits.") || name.startsWith("rule_shadow_hits.")));
    if (hit && !loading && Date.now() - lastLoad > 2000) load(true);
  });

  A.panels.push(() => load(false));
})();
