// Admin console: create/update users (PUT /v1/users/{id}), look users up by email, and page
// through the audit journal (GET /v1/audit) with a user filter. The other panels (admin_live.js,
// admin_blocks.js, admin_lists.js, admin_rules.js) register in CallsignAdmin.panels and start
// here once a token is present (docs/admin-console.md).
"use strict";

(function () {
  const C = window.Callsign;
  const A = (window.CallsignAdmin = window.CallsignAdmin || { panels: [], tickListeners: [] });
  const $ = (id) => document.getElementById(id);
  // The next page: the query it belongs to and its cursor (`after` on one node, `cursor` when
  // several nodes share a user's view), so changing the form never pages another query.
  let nextPage = null;

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

  // A detail value that could be misread as more pairs (spaces, "=", quotes) is quoted.
  function detailText(details) {
    return Object.entries(details || {})
      .map(([k, v]) => k + "=" + (/^[^\s="]*$/.test(String(v)) ? String(v) : JSON.stringify(String(v))))
      .join(" ");
  }

  async function loadAudit(page) {
    const query = page ? page.query : { limit: $("audit-limit").value, user: $("audit-user").value.trim() };
    const params = new URLSearchParams({ limit: query.limit });
    if (query.user) params.set("user", query.user);
    if (page) params.set(page.name, String(page.value));
    let res;
    try {
      res = await C.api("GET", "/v1/audit?" + params.toString());
    } catch (e) {
      $("audit-status").textContent = "Could not load: the server is unreachable";
      return;
    }
    const rows = $("audit-rows");
    rows.replaceChildren();
    if (!res.ok) {
      $("audit-status").textContent = "Could not load: " + C.problemText(res);
      nextPage = null;
      $("audit-next").disabled = true;
      return;
    }
    (res.data.entries || []).forEach((e) => {
      const tr = C.el("tr", {});
      // Several nodes: each node numbers its own journal, so the node goes with the number.
      [(e.node ? e.node + " " : "") + "#" + e.seq, C.formatTime(e.time), e.actor_type + " " + e.actor_id, e.action,
       e.subject, e.outcome, detailText(e.details)]
        .forEach((v) => tr.append(C.el("td", { text: v })));
      rows.append(tr);
    });
    nextPage = null;
    if (res.data.next_cursor !== undefined && res.data.next_cursor !== null) {
      nextPage = { query, name: "cursor", value: res.data.next_cursor };
    } else if (res.data.next_after !== undefined && res.data.next_after !== null) {
      nextPage = { query, name: "after", value: res.data.next_after };
    }
    $("audit-next").disabled = nextPage === null;
    $("audit-status").textContent = (res.data.entries || []).length + " entries" +
      (page ? " (a later page)" : "") + (nextPage !== null ? "; more on the next page" : "");
  }

  $("audit-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    loadAudit(null);
  });
  $("audit-next").addEventListener("click", () => {
    if (nextPage !== null) loadAudit(nextPage);
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
