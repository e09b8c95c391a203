// /proc figures for tools/bench/stream (stream_bench.js): a process's RSS, CPU time and context
// switches, and the summary of where the machine's CPU went over the measured boundaries.
"use strict";

const fs = require("fs");

function rssKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]);
}

// CPU time of a process, all its threads, in milliseconds: [user, system] (/proc/PID/stat, in
// clock ticks of 10 ms).
function cpuMs(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return [Number(fields[11]) * 10, Number(fields[12]) * 10];  // utime, stime (fields 14, 15)
}

// CPU time of each thread of a process in milliseconds (user + system): {"tid name": ms}.
function threadCpuMs(pid) {
  const out = {};
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    out[`${tid} ${name}`] = (Number(fields[11]) + Number(fields[12])) * 10;
  }
  return out;
}

// The whole machine's CPU time in milliseconds (/proc/stat, all cores): busy (user, nice, system,
// irq, softirq), idle (idle, iowait) and steal (taken by the hypervisor).
function machineCpuMs() {
  const line = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line;
  return { busy: (user + nice + system + irq + softirq) * 10, idle: (idle + iowait) * 10, steal: steal * 10 };
}

// Context switches of a process, all its threads: [voluntary, involuntary].
function contextSwitches(pid) {
  let voluntary = 0;
  let involuntary = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    const status = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
    voluntary += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)[1]);
    involuntary += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)[1]);
  }
  return [voluntary, involuntary];
}

// Prints the kernel receive stamps, context switches, epoll work and CPU time of each result.
function printWhereTheCpuGoes(results, boundaries, ms) {
  console.log("server      kernel receive stamp p50 / p99 / max      (the same messages: when the server's send " +
              "reached the client's socket)");
  for (const r of results.filter((x) => x.kernel)) {
    console.log(`${r.name.padEnd(11)} ${ms(r.kernel.p50).padStart(9)} ${ms(r.kernel.p99).padStart(9)} ${ms(r.kernel.max).padStart(9)}`);
  }
  for (const r of results.filter((x) => x.perBoundary && x.perBoundary.length)) {
    console.log(`${r.name.padEnd(11)} per boundary p50 / p99 / max: ` +
                r.perBoundary.map((b) => b.map((v) => v.toFixed(0)).join(" / ")).join(", ") + " ms");
  }
  console.log(`context switches over the ${boundaries} measured boundaries (voluntary / involuntary), ` +
              "client epoll loop (waits with events, events, reads with data):");
  for (const r of results) {
    const per = (n) => (n / r.expected).toFixed(2);
    console.log(`${r.name.padEnd(11)} server ${r.serverSwitches[0]} / ${r.serverSwitches[1]}, ` +
                `clients ${r.clientSwitches[0]} / ${r.clientSwitches[1]} ` +
                `(${per(r.clientSwitches[0] + r.clientSwitches[1])} per message)` +
                (r.loop ? `; epoll ${r.loop.waits} waits, ${(r.loop.events / Math.max(1, r.loop.waits)).toFixed(1)} ` +
                          `events per wait, ${r.loop.reads} reads` : ""));
  }
  console.log(`CPU time over the ${boundaries} measured boundaries (user + system), per boundary and per message:`);
  for (const r of results) {
    const total = (c) => c[0] + c[1];
    const line = (what, c) => `${what} ${c[0]} + ${c[1]} ms (${(total(c) / boundaries).toFixed(0)} ms per boundary, ` +
                               `${((total(c) * 1000) / r.expected).toFixed(1)} µs per message)`;
    console.log(`${r.name.padEnd(11)} ${line("server", r.serverCpu)}; ${line("clients", r.clientCpu)}`);
    if (r.machineCpu) {
      const others = r.machineCpu.busy - total(r.serverCpu) - total(r.clientCpu);
      console.log(`${"".padEnd(11)} the machine: busy ${r.machineCpu.busy} ms (of which other processes ${others} ms), ` +
                  `idle ${r.machineCpu.idle} ms, steal ${r.machineCpu.steal} ms`);
    }
    if (r.burst) {
      const b = r.burst;
      console.log(`${"".padEnd(11)} bursts (-100..+400 ms around each boundary): the machine busy ${b.busy} ms, ` +
                  `idle ${b.idle} ms (${((100 * b.busy) / Math.max(1, b.busy + b.idle)).toFixed(0)} % busy); ` +
                  `server ${b.server} ms, clients ${b.clients} ms, other processes ${b.busy - b.server - b.clients} ms`);
      if (b.threads) {
        const busiest = Object.entries(b.threads).sort((x, y) => y[1] - x[1]).slice(0, 4);
        console.log(`${"".padEnd(11)} bursts, the server's busiest threads: ` + busiest.map(([tid, v]) => `${tid} ${v} ms`).join(", "));
      }
    }
  }
}

module.exports = { rssKiB, cpuMs, threadCpuMs, machineCpuMs, contextSwitches, printWhereTheCpuGoes };
