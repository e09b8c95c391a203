// The summary of tools/bench/stream (stream_bench.js): one row per measured phase, where the CPU
// went, the ratios callsignd / Node and the targets. printReport returns whether all were met.
"use strict";

const { printWhereTheCpuGoes } = require("./stream_proc_stats");

const RSS_TARGET = 0.5;    // callsignd's RSS per connection <= 0.5x Node ws
const P99_TARGET_MS = 100;

// ours, theirs: the plain phases (callsignd, node-ws); floor: the floor server's phase or null
// (stream_floor_server.cpp, no target: what no server can beat on this machine); oursTls, theirsTls: the WSS phases or null.
function printReport({ ours, theirs, floor, oursTls, theirsTls }, { connections, processes, period, boundaries, clientSched }) {
  const kb = (bytes) => (bytes / 1024).toFixed(2) + " KiB";
  const ms = (v) => v.toFixed(1) + " ms";
  console.log("");
  console.log(`stream bench: ${connections} connections (one per user), ${processes} client processes, ` +
              `period ${period} s, ${boundaries} boundaries measured` +
              (clientSched === "batch" ? ", native clients as SCHED_BATCH" : ""));
  console.log("server      RSS before   RSS after    per connection   delivered          p50       p99       max");
  for (const r of [ours, theirs, floor, oursTls, theirsTls].filter(Boolean)) {
    console.log(`${r.name.padEnd(11)} ${String(r.rssBefore).padStart(8)} kB  ${String(r.rssAfter).padStart(8)} kB  ` +
                `${kb(r.perConnection).padStart(14)}   ${String(r.delivered).padStart(7)}/${String(r.expected).padEnd(7)}  ` +
                `${ms(r.p50).padStart(9)} ${ms(r.p99).padStart(9)} ${ms(r.max).padStart(9)}` +
                (r.closed ? `  (${r.closed} closed)` : ""));
  }
  printWhereTheCpuGoes([ours, theirs, floor, oursTls, theirsTls].filter(Boolean), boundaries, ms);
  const rssRatio = ours.perConnection / theirs.perConnection;
  console.log(`ratios (callsignd / node-ws): RSS per connection ${rssRatio.toFixed(2)}x (target <= ${RSS_TARGET}x), ` +
              `p99 ${(ours.p99 / theirs.p99).toFixed(2)}x, p50 ${(ours.p50 / theirs.p50).toFixed(2)}x`);
  if (floor) {
    console.log(`floor (the cheapest push server, same clients): p99 ${ms(floor.p99)}; callsignd / floor: ` +
                `p99 ${(ours.p99 / floor.p99).toFixed(2)}x, p50 ${(ours.p50 / floor.p50).toFixed(2)}x` +
                (floor.p99 > P99_TARGET_MS ? `; the floor itself is above the ${P99_TARGET_MS} ms target on this machine` : ""));
  }
  let ok = true;
  if (!(rssRatio <= RSS_TARGET)) {
    console.log(`MISSED: callsignd RSS per connection is ${rssRatio.toFixed(2)}x Node ws (target <= ${RSS_TARGET}x)`);
    ok = false;
  }
  if (!(ours.p99 <= P99_TARGET_MS)) {
    console.log(`MISSED: callsignd delivery p99 ${ms(ours.p99)} (target <= ${P99_TARGET_MS} ms)`);
    ok = false;
  }
  if (ours.delivered !== ours.expected || ours.closed !== 0) {
    console.log(`MISSED: callsignd delivered ${ours.delivered} of ${ours.expected} boundary tokens, ${ours.closed} closed`);
    ok = false;
  }
  if (oursTls) {
    const tlsRatio = oursTls.perConnection / theirsTls.perConnection;
    console.log(`ratios (callsignd-wss / node-wss): RSS per connection ${tlsRatio.toFixed(2)}x ` +
                `(target <= ${RSS_TARGET}x), p99 ${(oursTls.p99 / theirsTls.p99).toFixed(2)}x ` +
                `(npm ws clients: the p99 target applies to the plain run only); ` +
                `TLS adds ${kb(oursTls.perConnection - ours.perConnection)} per connection to callsignd`);
    if (!(tlsRatio <= RSS_TARGET)) {
      console.log(`MISSED: callsignd RSS per WSS connection is ${tlsRatio.toFixed(2)}x Node wss (target <= ${RSS_TARGET}x)`);
      ok = false;
    }
    if (oursTls.delivered !== oursTls.expected || oursTls.closed !== 0) {
      console.log(`MISSED: callsignd (wss) delivered ${oursTls.delivered} of ${oursTls.expected} boundary tokens, ` +
                  `${oursTls.closed} closed`);
      ok = false;
    }
  }
  console.log(ok ? "stream bench: targets met" : "stream bench: target missed");
  return ok;
}

module.exports = { printReport };
