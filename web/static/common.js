// Shared by the pages: the bearer token (sessionStorage 'callsign.token', see docs/auth.md),
// API calls, small DOM helpers, the dev-mode demo identity picker and the live WebSocket with
// its reconnects. No inline scripts (CSP).
"use strict";

window.Callsign = (function () {
  const KEY = "callsign.token";

  function token() {
    return sessionStorage.getItem(KEY);
  }

  function setToken(value) {
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  }

  // The token's claims, for display only (the server checks the signature).
  function claims() {
    const t = token();
    if (!t) return null;
    try {
      const part = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part + "===".slice((part.length + 3) % 4)));
    } catch (e) {
      return null;
    }
  }

  const unauthorizedHandlers = [];

  // {status, ok, data, headers}; never throws for HTTP errors, only for network failures.
  async function api(method, path, body) {
    const headers = {};
    const t = token();
    if (t) headers.Authorization = "Bearer " + t;
    let payload;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const res = await fetch(path, { method, headers, body: payload, cache: "no-store", credentials: "omit" });
    const text = await res.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = { detail: text };
      }
    }
    if (res.status === 401 && t) {
      unauthorizedHandlers.forEach((fn) => fn());
    }
    return { status: res.status, ok: res.ok, data, headers: res.headers };
  }

  function problemText(res) {
    if (res.data && res.data.detail) return res.data.detail + " (" + res.status + ")";
    return "HTTP " + res.status;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    });
    children.forEach((c) => node.append(c));
    return node;
  }

  function formatTime(unixSeconds) {
    return new Date(unixSeconds * 1000).toLocaleString();
  }

  // The identity box (#identity): who the page acts as; in dev mode a demo picker.
  // options: {role, defaultSub, onToken}. onToken runs once a token is present.
  async function setupIdentity(options) {
    const who = document.getElementById("whoami");
    const form = document.getElementById("dev-form");
    const sub = document.getElementById("dev-sub");
    const status = document.getElementById("identity-status");
    document.getElementById("dev-role").textContent = options.role;

    function showWho() {
      const c = claims();
      who.textContent = c ? c.role + " " + c.sub : "nobody (no token)";
    }

    unauthorizedHandlers.push(() => {
      setToken(null);
      showWho();
      status.textContent = "The token was refused; get a new one.";
    });

    showWho();
    // Dev mode answers 400 to an empty body; outside dev mode the route answers 404.
    let devMode = false;
    try {
      const probe = await fetch("/v1/dev/token", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: "{}", cache: "no-store",
      });
      devMode = probe.status !== 404;
    } catch (e) {
      devMode = false;
    }
    if (devMode) {
      sub.value = (claims() && claims().role === options.role && claims().sub) || options.defaultSub;
      form.hidden = false;
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const res = await api("POST", "/v1/dev/token", { role: options.role, sub: sub.value.trim() });
        if (!res.ok) {
          status.textContent = "Could not get a demo token: " + problemText(res);
          return;
        }
        setToken(res.data.token);
        status.textContent = "";
        showWho();
        options.onToken();
      });
    } else if (!token()) {
      status.textContent = "No token. The embedding application stores one in sessionStorage " +
        "'callsign.token' before opening this page (docs/auth.md).";
    }
    if (token()) options.onToken();
  }

  // One live WebSocket with reconnects, for GET /v1/stream and GET /v1/admin/stream
  // (docs/stream.md, "Closes"). options: {path, liveType (the message type that shows the stream
  // works: it resets the back-off and the status says "live"), onMessage(msg) (every parsed
  // message), onStatus(text), onEnded(lastError) (a 1008 close: the same token would be refused
  // again, so no reconnect)}. Each connect sends the token stored at that moment.
  function liveSocket(options) {
    let socket = null;
    let backoffMs = 1000;
    let reconnectTimer = null;

    // Exponential back-off, 1 s to 30 s, with jitter so that a restart is not met by every page at once.
    function scheduleReconnect() {
      if (reconnectTimer) return;
      const wait = backoffMs + Math.floor(Math.random() * 250);
      backoffMs = Math.min(backoffMs * 2, 30000);
      options.onStatus("reconnecting in " + Math.round(wait / 1000) + " s");
      reconnectTimer = setTimeout(() => {
        reconnectTimer = null;
        connect();
      }, wait);
    }

    function connect() {
      const t = token();
      if (!t) return;
      if (socket) {
        socket.onclose = null;  // a replaced socket must not schedule a reconnect
        socket.close();
      }
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(scheme + "//" + location.host + options.path);
      socket = ws;
      let lastError = "";  // the server's {"type":"error"} comes just before a close it starts
      options.onStatus("connecting");
      ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: t }));
      ws.onmessage = (ev) => {
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch (e) {
          return;
        }
        if (msg.type === options.liveType) {
          backoffMs = 1000;
          options.onStatus("live");
        } else if (msg.type === "error") {
          lastError = String(msg.error || "");
          options.onStatus("stream error: " + lastError);
        }
        options.onMessage(msg);
      };
      ws.onclose = (ev) => {
        if (socket !== ws) return;
        socket = null;
        // A slow consumer may reconnect; every other 1008 would be refused again.
        if (ev.code === 1008 && lastError !== "slow consumer") options.onEnded(lastError);
        else scheduleReconnect();
      };
    }

    // start(): connect now (again after a new token). resetBackoff(): the next wait is 1 s again.
    return { start: connect, resetBackoff: () => { backoffMs = 1000; } };
  }

  return { token, setToken, claims, api, problemText, el, formatTime, setupIdentity, liveSocket };
})();
