// Agent console: POST /v1/verify with the code a caller reads out.
"use strict";

(function () {
  const C = window.Callsign;
  const $ = (id) => document.getElementById(id);

  function show(kind, text) {
    const box = $("result");
    box.className = "result " + kind;
    box.dataset.outcome = kind;
    box.textContent = text;
    box.hidden = false;
  }

  $("target").addEventListener("input", () => {
    // A guess the agent can override: emails have an '@' followed by a dot.
    $("by").value = /@.+\./.test($("target").value) ? "email" : $("by").value;
  });

  $("verify-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!C.token()) {
      show("error", "No agent token: pick a demo identity or sign in through your desk.");
      return;
    }
    const body = { code: $("code").value.trim() };
    body[$("by").value] = $("target").value.trim();
    if ($("ticket").value.trim()) body.ticket = $("ticket").value.trim();
    $("verify").disabled = true;
    try {
      const res = await C.api("POST", "/v1/verify", body);
      if (res.status === 429) {
        const wait = res.headers.get("Retry-After") || "?";
        show("throttled", "Too many failed attempts. Try again in " + wait + " s.");
      } else if (res.ok && res.data.valid) {
        const how = res.data.method === "authenticator" ? "authenticator app" : "phone code";
        show("valid", "✔ Valid — caller verified (" + how + ", user " + res.data.user + ").");
      } else if (res.ok) {
        show("invalid", "✘ Invalid code. Do not proceed.");
      } else {
        show("error", "Could not verify: " + C.problemText(res));
      }
    } catch (e) {
      show("error", "Network error: " + e.message);
    } finally {
      $("verify").disabled = false;
      $("code").value = "";
    }
  });

  C.setupIdentity({ role: "agent", defaultSub: "agent-1", onToken: () => {} });
})();
