// Admin console, blocks: GET /v1/admin/blocks searched by address, username (hashed by the
// server, never shown back) or key text, the time each block has left, and an unblock
// (DELETE /v1/admin/blocks/{key}, audited) behind a confirmation dialog. docs/admin-console.md.
"use strict";

(function () {
  const C = window.Callsign;
  const A = (window.CallsignAdmin = window.CallsignAdmin || { panels: [], tickListeners: [] });
  const $ = (id) => document.getElementById(id);
  let shown = [];  // [{block, fetchedAt}] for the countdown
  // Each load and each unblock takes the next number; a load renders only while its number is
  // the newest, so a list fetched before an unblock never puts the lifted block back.
  let generation = 0;
  let pendingKey = null;
  // One load at a time: a load asked for while one runs makes one more run after it (so an
  // attack's stream of new blocks never piles requests up), and ticks ask at most every 2 s.
  let running = null;
  let again = false;
  let lastStart = 0;
  let tickTimer = null;

  function remaining(seconds) {
    if (seconds <= 0) return "expired";
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    return (h ? h + " h " : "") + (h || m ? m + " min " : "") + s + " s";
  }

  function tickCountdown() {
    const now = Date.now();
    shown.forEach(({ block, fetchedAt, cell }) => {
      cell.textContent = remaining(block.retry_after - Math.floor((now - fetchedAt) / 1000));
    });
  }

  function load() {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          lastStart = Date.now();
          await loadOnce();
        } while (again);
      } finally {
        running = null;
      }
    })();
    return running;
  }

  function loadSoon() {
    if (tickTimer !== null) return;
    tickTimer = setTimeout(() => {
      tickTimer = null;
      load();
    }, Math.max(0, lastStart + 2000 - Date.now()));
  }

  async function loadOnce() {
    if (!C.token()) return;
    const mine = ++generation;
    const params = new URLSearchParams();
    [["ip", "blocks-ip"], ["username", "blocks-username"], ["key", "blocks-key"]].forEach(([name, id]) => {
      const v = $(id).value.trim();
      if (v) params.set(name, v);
    });
    let res;
    try {
      res = await C.api("GET", "/v1/admin/blocks" + (params.toString() ? "?" + params.toString() : ""));
    } catch (e) {
      // Not live any more: say so, and stop counting down as if it were.
      if (mine === generation) {
        shown = [];
        $("blocks-status").textContent = "Could not load: the server is unreachable; the list below is stale";
      }
      return;
    }
    if (mine !== generation) return;  // a newer load or an unblock came meanwhile
    if (!res.ok) {
      $("blocks-status").textContent = "Could not load: " + C.problemText(res);
      return;
    }
    const fetchedAt = Date.now();
    const blocks = res.data.blocks || [];
    shown = [];
    $("blocks-rows").replaceChildren(...blocks.map((block) => {
      const tr = C.el("tr", { "data-key": block.key });
      const left = C.el("td", { class: "remaining", text: remaining(block.retry_after) });
      const button = C.el("button", { type: "button", class: "unblock", text: "Unblock" });
      button.addEventListener("click", () => confirmUnblock(block.key));
      const action = C.el("td", {});
      action.append(button);
      tr.append(C.el("td", { class: "key", text: block.key }), C.el("td", { text: block.kind }),
                C.el("td", { text: block.rule }), C.el("td", { text: C.formatTime(block.created_at) }), left, action);
      shown.push({ block, fetchedAt, cell: left });
      return tr;
    }));
    const total = res.data.total === undefined ? blocks.length : res.data.total;
    $("blocks-status").textContent = (res.data.truncated ? "the first " + blocks.length + " of " : "") +
      total + (total === 1 ? " block" : " blocks") + (params.toString() ? " matching the search" : " in force") +
      (res.data.truncated ? " (in key order; search to narrow)" : "");
  }

  function confirmUnblock(key) {
    pendingKey = key;
    $("unblock-key").textContent = key;
    $("unblock-dialog").showModal();
  }

  $("unblock-dialog").addEventListener("close", async () => {
    const key = pendingKey;
    pendingKey = null;
    if ($("unblock-dialog").returnValue !== "confirm" || key === null) return;
    let res;
    try {
      res = await C.api("DELETE", "/v1/admin/blocks/" + encodeURIComponent(key));
    } catch (e) {
      $("blocks-status").textContent = "Could not unblock " + key + ": the server is unreachable";
      return;
    }
    if (!res.ok) {
      $("blocks-status").textContent = "Could not unblock " + key + ": " + C.problemText(res);
      return;
    }
    // The row goes at once, and no list fetched before the DELETE may bring it back.
    generation++;
    shown = shown.filter(({ block }) => block.key !== key);
    $("blocks-rows").querySelectorAll("tr").forEach((tr) => { if (tr.dataset.key === key) tr.remove(); });
    $("blocks-status").textContent = "Lifted the block on " + key + ".";
    await load();
    $("blocks-status").textContent = "Lifted the block on " + key + ".";
  });

  $("blocks-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    load();
  });
  // New blocks show up at once: the live stream's tick says when one was set.
  A.onTick((tick) => {
    if ((tick.values || {})["blocks.new"] > 0) loadSoon();
  });
  setInterval(() => {
    if ($("blocks-auto").checked && !$("unblock-dialog").open) load();
  }, 5000);
  setInterval(tickCountdown, 1000);

  A.panels.push(load);
})();
