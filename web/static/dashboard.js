// Customer dashboard: the live phone token over GET /v1/stream, recent verifications, and
// authenticator-app enrollment. See docs/stream.md.
"use strict";

(function () {
  const C = window.Callsign;
  const $ = (id) => document.getElementById(id);

  let expiresAt = 0;
  const seen = new Set();  // verification keys already listed

  function showToken(msg) {
    $("code").textContent = msg.token;
    $("code").dataset.step = String(msg.step);
    expiresAt = msg.expires_at;
    tick();
  }

  function tick() {
    if (!expiresAt) return;
    const left = Math.max(0, Math.ceil(expiresAt - Date.now() / 1000));
    $("countdown").textContent = String(left);
  }
  setInterval(tick, 250);

  function addVerification(agent, method, at, fresh) {
    const key = agent + "|" + method + "|" + at;
    if (seen.has(key)) return;
    seen.add(key);
    const li = C.el("li", { class: fresh ? "fresh" : "" });
    li.dataset.agent = agent;
    li.append(C.el("strong", { text: agent }), " verified you with ",
              C.el("span", { text: method === "authenticator" ? "your authenticator app" : "the phone code" }),
              " · ", C.el("time", { text: C.formatTime(at) }));
    const list = $("verifications");
    list.prepend(li);
    while (list.children.length > 20) list.lastChild.remove();
    $("verifications-empty").hidden = true;
  }

  async function loadVerifications() {
    const res = await C.api("GET", "/v1/me/audit?limit=100");
    if (!res.ok) return;
    const entries = (res.data.entries || []).filter((e) => e.action === "verify" && e.outcome === "valid");
    entries.reverse().forEach((e) => addVerification(e.actor_id, (e.details || {}).method || "phone_token", e.time, false));
  }

  async function loadCodeOnce() {
    const res = await C.api("GET", "/v1/me/phone-token");
    if (res.ok) {
      showToken(res.data);
      $("code-error").textContent = "";
    } else {
      $("code-error").textContent = "No code: " + C.problemText(res);
    }
  }

  // The stream ended for good: the server closed it 1008 (policy) for a reason a reconnect with
  // the same token cannot fix (docs/stream.md, "Closes"). The last code is taken off the page,
  // so that it never looks current, and no reconnect is tried.
  function showEnded(error) {
    $("code").textContent = "------";
    delete $("code").dataset.step;
    expiresAt = 0;
    $("countdown").textContent = "–";
    $("stream-status").textContent = "ended";
    let why;
    if (error === "token expired" || error === "invalid or expired token") {
      why = "Your sign-in has expired. Get a new token to see codes again.";
    } else if (error === "phone support is not enabled for your account" ||
               error === "your account is not registered with callsign") {
      why = "Phone codes are off: " + error + ".";
    } else {
      why = "The live code stopped: " + (error || "closed by the server") + ". Reload the page to try again.";
    }
    $("code-error").textContent = why;
  }

  const stream = C.liveSocket({
    path: "/v1/stream",
    liveType: "token",
    onStatus: (text) => { $("stream-status").textContent = text; },
    onEnded: showEnded,
    onMessage: (msg) => {
      if (msg.type === "token") showToken(msg);
      else if (msg.type === "verified") addVerification(msg.agent, msg.method, msg.at, true);
      else if (msg.type === "authenticator") showAuthenticatorState(msg.state);
    },
  });

  $("copy").addEventListener("click", async () => {
    const code = $("code").textContent;
    try {
      await navigator.clipboard.writeText(code);
      $("copy").textContent = "Copied";
    } catch (e) {
      const range = document.createRange();
      range.selectNodeContents($("code"));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      $("copy").textContent = "Press Ctrl+C";
    }
    setTimeout(() => { $("copy").textContent = "Copy"; }, 1500);
  });

  // The enrollment state, live from `authenticator` stream messages (this or another tab).
  let enrolling = false;  // this tab shows a QR code it started
  function showAuthenticatorState(state) {
    const card = $("auth-status");
    card.dataset.state = state || "";
    if (state === "active" || state === "none") {
      $("auth-setup").hidden = true;
      $("auth-qr").removeAttribute("src");
      $("auth-secret").textContent = "";
      enrolling = false;
    }
    if (state === "active") {
      card.textContent = "Your authenticator app is active.";
      $("auth-start").textContent = "Replace the authenticator app";
    } else if (state === "none") {
      card.textContent = "No authenticator app is set up.";
      $("auth-start").textContent = "Set up an authenticator app";
    } else if (state === "pending" || state === "active_pending_replacement") {
      card.textContent = enrolling ? "Waiting for confirmation."
                                   : "A setup was started elsewhere; confirm it there or start again here.";
    }
  }

  $("auth-start").addEventListener("click", async () => {
    enrolling = true;  // set first: the stream's "pending" may arrive before the response
    const res = await C.api("POST", "/v1/me/authenticator");
    if (!res.ok) {
      enrolling = false;
      $("auth-status").textContent = "Could not start: " + C.problemText(res);
      return;
    }
    // A data: URL keeps the CSP strict (img-src 'self' data:); the SVG never enters the DOM.
    $("auth-qr").src = "data:image/svg+xml;base64," + btoa(unescape(encodeURIComponent(res.data.qr_svg)));
    $("auth-secret").textContent = res.data.secret;
    $("auth-setup").hidden = false;
    $("auth-status").textContent = "Waiting for confirmation.";
  });

  $("auth-confirm").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const res = await C.api("POST", "/v1/me/authenticator/confirm", { code: $("auth-code").value.trim() });
    if (res.ok) {
      $("auth-setup").hidden = true;
      $("auth-status").textContent = "Your authenticator app is active.";
    } else {
      $("auth-status").textContent = "Not confirmed: " + C.problemText(res);
    }
    $("auth-code").value = "";
  });

  function start() {
    seen.clear();
    $("verifications").replaceChildren();
    $("verifications-empty").hidden = false;
    loadCodeOnce();
    loadVerifications();
    stream.resetBackoff();  // a new token starts over at 1 s
    stream.start();
  }

  C.setupIdentity({ role: "customer", defaultSub: "u-alice", onToken: start });
})();
