// Admin console: create/update users (PUT /v1/users/{id}), look users up by email, and page
// through the audit journal (GET /v1/audit) with a user filter. The other panels (admin_live.js,
// admin_blocks.js, admin_lists.js, admin_rules.js) register in CallsignAdmin.panels and start
// here once a token is present (docs/admin-console.md).
"use strict";

(function () {
  const C = window.Callsign;
  const A = (window.CallsignAdmin = window.CallsignAdmin || { panels: [], tickListeners: [] });
  const $ = (id) => document.getElementById(id);
  let nextAfter = null;

  function showUser(text) {
    $("user-result").textContent = text;
    $("user-result").hidden = false;
  }

  $("user-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const id = $("user-id").value.trim();
    const res = await C.api("PUT", "/v1/users/" + encodeURIComponent(id),
                            { email: $("user-email").value.trim(), phone_support: $("user-phone").checked });
    showUser(res.ok ? (res.status === 201 ? "Created: " : "Updated: ") + JSON.stringify(res.data, null, 2)
                    : "Failed: " + C.problemText(res));
  });

  $("lookup-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const res = await C.api("GET", "/v1/users?email=" + encodeURIComponent($("lookup-email").value.trim()));
    showUser(res.ok ? JSON.stringify(res.data, null, 2) : "Not found: " + C.problemText(res));
  });

  async function loadAudit(after) {
    const params = new URLSearchParams({ limit: $("audit-limit").value });
    if ($("audit-user").value.trim()) params.set("user", $("audit-user").value.trim());
    if (after !== null) params.set("after", String(after));
    const res = await C.api("GET", "/v1/audit?" + params.toString());
    const rows = $("audit-rows");
    rows.replaceChildren();
    if (!res.ok) {
      $("audit-status").textContent = "Could not load: " + C.problemText(res);
      return;
    }
    (res.data.entries || []).forEach((e) => {
      const details = Object.entries(e.details || {}).map(([k, v]) => k + "=" + v).join(" ");
      const tr = C.el("tr", {});
      [String(e.seq), C.formatTime(e.time), e.actor_type + " " + e.actor_id, e.action, e.subject, e.outcome, details]
        .forEach((v) => tr.append(C.el("td", { text: v })));
      rows.append(tr);
    });
    nextAfter = res.data.next_after === undefined ? null : res.data.next_after;
    $("audit-next").disabled = nextAfter === null;
    $("audit-status").textContent = (res.data.entries || []).length + " entries" +
      (after !== null ? " after #" + after : "") + (nextAfter !== null ? "; more on the next page" : "");
  }

  $("audit-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    loadAudit(null);
  });
  $("audit-next").addEventListener("click", () => {
    if (nextAfter !== null) loadAudit(nextAfter);
  });

  C.setupIdentity({
    role: "admin",
    defaultSub: "admin",
    onToken: () => {
      loadAudit(null);
      A.panels.forEach((start) => start());
    },
  });
})();
