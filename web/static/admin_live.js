// Admin console, live analytics: per-second counts from GET /v1/admin/stream (a WebSocket; the
// first message is the last hour, then one tick a second; docs/admin-console.md), drawn with
// uPlot (web/static/uplot.js). Other panels listen to the ticks through CallsignAdmin.onTick.
"use strict";

(function () {
  const C = window.Callsign;
  const A = (window.CallsignAdmin = window.CallsignAdmin || { panels: [], tickListeners: [] });
  A.onTick = (fn) => A.tickListeners.push(fn);
  const $ = (id) => document.getElementById(id);
  const HOUR = 3600;

  // Fixed charts: [series name, label, colour]. The names are the server's (live_series).
  const FIXED = {
    checks: [["login_checks.allow", "allowed", "#2f855a"], ["login_checks.block", "blocked", "#c53030"],
             ["login_checks.challenge", "challenged", "#b7791f"]],
    failures: [["login.failures", "failed logins", "#c53030"], ["blocks.new", "new blocks", "#553c9a"]],
    matches: [["matches.open_proxy", "open proxy", "#dd6b20"],
              ["matches.exposed_credential", "exposed credential", "#2b6cb0"]],
    verify: [["verify.valid", "valid", "#2f855a"], ["verify.invalid", "invalid", "#c53030"],
             ["verify.replayed", "replayed", "#b7791f"], ["verify.throttled", "throttled", "#553c9a"]],
  };
  const PALETTE = ["#2b6cb0", "#c53030", "#2f855a", "#b7791f", "#553c9a", "#dd6b20", "#319795", "#97266d"];
  const isRuleSeries = (name) => name.startsWith("rule_hits.") || name.startsWith("rule_shadow_hits.");

  // The last hour: seconds first..last, and each series' counts for them.
  let first = 0;
  let last = -1;
  const counts = new Map();
  const charts = {};  // chart key -> {plot, names}

  function windowSeconds() {
    return Number($("live-window").value) || 600;
  }

  function resetData(history) {
    counts.clear();
    first = history.start || 0;
    last = history.seconds ? first + history.seconds - 1 : first - 1;
    Object.entries(history.series || {}).forEach(([name, values]) => counts.set(name, values.slice()));
  }

  function addTick(t, values) {
    if (last >= first && t <= last) return;  // already in the history
    if (last < first) {
      first = t;
      last = t - 1;
    }
    // Seconds the stream skipped (the server was busy) hold zeros.
    const gap = Math.min(t - last - 1, HOUR);
    Object.keys(values).forEach((name) => {
      if (!counts.has(name)) counts.set(name, new Array(last - first + 1).fill(0));
    });
    counts.forEach((series, name) => {
      for (let i = 0; i < gap; ++i) series.push(0);
      series.push(Number(values[name] || 0));
      // A series the stream no longer reports (a removed rule's) goes once its hour is all zeros,
      // so a console left open across many rule changes keeps only the series that still count
      // (checked once a minute).
      if (t % 60 === 0 && !(name in values) && series.every((v) => v === 0)) counts.delete(name);
    });
    last = t;
    const held = last - first + 1;
    if (held > HOUR) {
      const drop = held - HOUR;
      counts.forEach((series) => series.splice(0, drop));
      first += drop;
    }
  }

  // Sum of a series over its last `seconds` held seconds.
  function sum(name, seconds) {
    const series = counts.get(name);
    if (!series) return 0;
    let total = 0;
    for (let i = Math.max(0, series.length - seconds); i < series.length; ++i) total += series[i];
    return total;
  }

  // The whole window on the x axis; seconds before the stream's first are gaps (null), not zeros.
  function chartData(names) {
    const w = windowSeconds();
    const end = last >= first ? last : Math.floor(Date.now() / 1000) - 1;
    const times = [];
    for (let t = end - w + 1; t <= end; ++t) times.push(t);
    const data = [times];
    const held = Math.min(last >= first ? last - first + 1 : 0, w);
    names.forEach((name) => {
      const series = counts.get(name) || [];
      const values = new Array(w - held).fill(null);
      for (let i = series.length - held; i < series.length; ++i) values.push(i >= 0 ? series[i] : 0);
      data.push(values);
    });
    return data;
  }

  function makePlot(key, defs) {
    const figure = document.querySelector(`[data-chart="${key}"]`);
    const opts = {
      width: Math.max(figure.clientWidth - 8, 240),
      height: 170,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max, 1)] } },
      axes: [{}, { size: 46 }],
      series: [{}].concat(defs.map(([name, label, colour, dash]) => ({
        label, stroke: colour, width: 1.5, points: { show: false }, dash,
      }))),
    };
    const plot = new window.uPlot(opts, chartData(defs.map((d) => d[0])), figure);
    charts[key] = { plot, names: defs.map((d) => d[0]) };
  }

  // Per-rule hits come and go with the rule set: the chart is rebuilt when its series change. Only
  // series with a hit in the hour held are drawn (a set of 100 rules has 200 series).
  function ruleDefs() {
    const names = [...counts.keys()].filter((n) => isRuleSeries(n) && sum(n, HOUR) > 0).sort((a, b) => {
      const ida = a.slice(a.indexOf(".") + 1);
      const idb = b.slice(b.indexOf(".") + 1);
      return ida === idb ? a.localeCompare(b) : ida.localeCompare(idb);
    });
    const ids = [...new Set(names.map((n) => n.slice(n.indexOf(".") + 1)))];
    return names.map((name) => {
      const shadow = name.startsWith("rule_shadow_hits.");
      const id = name.slice(name.indexOf(".") + 1);
      return [name, id + (shadow ? " (shadow)" : ""), PALETTE[ids.indexOf(id) % PALETTE.length], shadow ? [5, 4] : undefined];
    });
  }

  function draw() {
    Object.entries(FIXED).forEach(([key, defs]) => {
      if (!charts[key]) makePlot(key, defs);
      else charts[key].plot.setData(chartData(charts[key].names));
    });
    const defs = ruleDefs();  // once per draw: it sums an hour of every rule series
    const names = defs.map((d) => d[0]);
    const current = charts.rules;
    if (current && current.names.join() !== names.join()) {
      current.plot.destroy();
      delete charts.rules;
    }
    $("rules-chart-empty").hidden = names.length > 0;
    if (names.length > 0) {
      if (!charts.rules) makePlot("rules", defs);
      else charts.rules.plot.setData(chartData(names));
    }
    drawTotals(defs);
  }

  function drawTotals(defs) {
    const rows = $("live-totals");
    const w = windowSeconds();
    const names = [...Object.values(FIXED).flat().map((d) => d[0]), ...(defs || ruleDefs()).map((d) => d[0])];
    rows.replaceChildren(...names.map((name) => {
      const tr = C.el("tr", { "data-series": name });
      tr.append(C.el("td", { text: name }), C.el("td", { class: "second", text: String(sum(name, 1)) }),
                C.el("td", { class: "minute", text: String(sum(name, 60)) }),
                C.el("td", { class: "window", text: String(sum(name, w)) }));
      return tr;
    }));
  }

  function setStatus(text) {
    $("live-status").textContent = text;
  }

  const stream = C.liveSocket({
    path: "/v1/admin/stream",
    liveType: "history",
    onStatus: setStatus,
    // A refused or expired token is refused again: wait for a new one (the identity box).
    onEnded: (error) => setStatus("ended: " + (error || "closed by the server") + "; get a new token"),
    onMessage: (msg) => {
      if (msg.type === "history") {
        resetData(msg);
        draw();
      } else if (msg.type === "tick") {
        addTick(msg.t, msg.values || {});
        $("live").dataset.lastTick = String(msg.t);
        draw();
        A.tickListeners.forEach((fn) => fn(msg));
      }
    },
  });

  $("live-window").addEventListener("change", draw);
  window.addEventListener("resize", () => {
    Object.entries(charts).forEach(([key, chart]) => {
      const figure = document.querySelector(`[data-chart="${key}"]`);
      chart.plot.setSize({ width: Math.max(figure.clientWidth - 8, 240), height: 170 });
    });
  });

  // For the browser tests and the curious: the data each chart shows.
  A.live = { charts, sum };
  A.panels.push(stream.start);
})();
