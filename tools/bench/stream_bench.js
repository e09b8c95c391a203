// Orchestrates tools/bench/stream: the same WebSocket push load against callsignd (Release) and
// against a minimal Node `ws` push server (stream_node_server.js), one after the other in the same
// run, and then (--floor-server) against stream_floor_server.cpp, the cheapest push server for
// the same clients. For each: server RSS per connection ((VmRSS with N connected - VmRSS before) / N) and the
// delivery latency of boundary tokens as seen by the clients (arrival - step start, same host,
// same clock). Prints both and the ratios (stream_bench_report.js); exits 1 if a target is missed.
// With --tls-cert/--tls-key (CALLSIGN_BENCH_TLS=1), two more phases follow: callsignd again on
// the same data directory with its [tls] listener, and the Node peer as an https server, both
// measured with npm ws clients over wss:// (the native client speaks no TLS).
// Usage: node stream_bench.js --callsignd PATH --connections N --processes P --period S
//                             --boundaries B --work DIR [--tls-cert PEM --tls-key PEM]
"use strict";

const { spawn, fork } = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
const http = require("http");
const path = require("path");

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const CALLSIGND = arg("--callsignd");
const CONNECTIONS = Number(arg("--connections", "19000"));
const PROCESSES = Number(arg("--processes", "4"));
const PERIOD = Number(arg("--period", "2"));
const BOUNDARIES = Number(arg("--boundaries", "5"));
const WORK = arg("--work");
// "native": tools/bench/stream_client.cpp (epoll, one thread per process), the default, so
// the latency measured is the server's; "node": stream_clients.js with npm ws.
const CLIENT = arg("--client", "native");
const NATIVE_CLIENT = arg("--native-client");
// "batch": the native clients run as SCHED_BATCH (an experiment, see stream_client.cpp).
const CLIENT_SCHED = arg("--client-sched", "normal");
// The floor (stream_floor_server.cpp): a third phase with the cheapest push server, measured with
// the native clients; what the kernel's send and the clients' reads alone cost on this machine.
const FLOOR_SERVER = arg("--floor-server");
const TLS_CERT = arg("--tls-cert");
const TLS_KEY = arg("--tls-key");

const { rssKiB, cpuMs, threadCpuMs, machineCpuMs, contextSwitches } = require("./stream_proc_stats");
const { printReport } = require("./stream_bench_report");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const userId = (i) => "bench-user-" + String(i).padStart(5, "0");

async function waitForPortFile(file, proc, what) {
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    if (fs.existsSync(file)) {
      const text = fs.readFileSync(file, "utf8").trim();
      if (text) return Number(text);
    }
    if (proc.exitCode !== null) throw new Error(what + " exited early");
    await sleep(50);
  }
  throw new Error(what + " wrote no port file");
}

function jwt(key, sub, role) {
  const b64 = (x) => Buffer.from(JSON.stringify(x)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const input = b64({ alg: "HS256", typ: "JWT" }) + "." +
                b64({ iss: "callsign", aud: "callsign", sub, role, iat: now, exp: now + 3600 });
  return input + "." + crypto.createHmac("sha256", key).update(input).digest("base64url");
}

// PUT /v1/users/{id} for every user, 32 keep-alive requests in flight.
async function createUsers(port, adminToken, count) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const put = (i) => new Promise((resolve, reject) => {
    const body = JSON.stringify({ email: userId(i) + "@bench.example", phone_support: true });
    const req = http.request({ host: "127.0.0.1", port, method: "PUT", path: "/v1/users/" + userId(i), agent,
                               headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body),
                                          Authorization: "Bearer " + adminToken } }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 || res.statusCode === 201 ? resolve()
                                                                                : reject(new Error("PUT user " + res.statusCode))));
    });
    req.on("error", reject);
    req.end(body);
  });
  let next = 0;
  const workers = [];
  for (let w = 0; w < 32; ++w) {
    workers.push((async () => {
      while (next < count) await put(next++);
    })());
  }
  await Promise.all(workers);
  agent.destroy();
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

// A stream_client process behind the same interface as a fork()ed stream_clients.js: send()
// writes a command line, and each line it prints arrives as a "message" event.
function nativeClient(port, tokensFile, localAddress) {
  const child = spawn(NATIVE_CLIENT, ["--port", String(port), "--tokens", tokensFile, "--local-address", localAddress,
                                      "--sched", CLIENT_SCHED],
                      { stdio: ["pipe", "pipe", "inherit"] });
  let pending = "";
  child.stdout.on("data", (chunk) => {
    pending += chunk.toString();
    for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
      const words = pending.slice(0, nl).split(" ");
      pending = pending.slice(nl + 1);
      if (words[0] === "kernel") {
        child.emit("message", { type: "kernel", values: words.slice(1).map(Number) });
      } else if (words[0] === "steps") {
        child.emit("message", { type: "steps", values: words.slice(1).map(Number) });
      } else if (words[0] === "loop") {
        child.emit("message", { type: "loop", waits: Number(words[1]), events: Number(words[2]), reads: Number(words[3]) });
      } else if (words[0] === "ready") {
        child.emit("message", { type: "ready", open: Number(words[1]), failed: Number(words[2]) });
      } else if (words[0] === "latencies") {
        child.emit("message", { type: "latencies", closed: Number(words[1]), values: words.slice(2).map(Number) });
      }
    }
  });
  child.send = (m) => {
    const line = m.type === "measure" ? `measure ${m.from} ${m.to}` : m.type === "count" ? `count ${m.on ? "on" : "off"}` : m.type;
    child.stdin.write(line + "\n");
  };
  return child;
}

// Connects CONNECTIONS clients (one per user) over PROCESSES processes, measures, disconnects.
// tls: connect with wss:// (npm ws clients, trusting TLS_CERT).
async function measure(name, pid, port, tokens, addressBlock, tls = false) {
  const rssBefore = rssKiB(pid);
  const per = Math.ceil(tokens.length / PROCESSES);
  const children = [];
  const started = Date.now();
  for (let p = 0; p < PROCESSES; ++p) {
    const file = path.join(WORK, `${name}-tokens-${p}.txt`);
    fs.writeFileSync(file, tokens.slice(p * per, (p + 1) * per).join("\n") + "\n");
    const localAddress = `127.0.${addressBlock}.${p + 1}`;
    const child = CLIENT === "node" || tls
      ? fork(path.join(__dirname, "stream_clients.js"),
             ["--url", `${tls ? "wss" : "ws"}://127.0.0.1:${port}/v1/stream`, "--tokens", file,
              "--local-address", localAddress,
              // TLS handshakes cost the Node clients far more CPU: fewer in flight per process.
              ...(tls ? ["--ca", TLS_CERT, "--concurrency", "50"] : [])],
             { stdio: "inherit" })
      : nativeClient(port, file, localAddress);
    const box = { child, messages: [], waiters: [] };
    child.on("message", (m) => {
      box.messages.push(m);
      box.waiters.splice(0).forEach((w) => w());
    });
    children.push(box);
  }
  const next = async (box, type) => {
    for (;;) {
      const i = box.messages.findIndex((m) => m.type === type);
      if (i >= 0) return box.messages.splice(i, 1)[0];
      if (box.child.exitCode !== null) throw new Error("a client process exited");
      await new Promise((r) => box.waiters.push(r));
    }
  };
  const ready = await Promise.all(children.map((c) => next(c, "ready")));
  const open = ready.reduce((a, r) => a + r.open, 0);
  const failed = ready.reduce((a, r) => a + r.failed, 0);
  console.log(`stream bench: ${name}: ${open} connections open (${failed} failed) in ` +
              `${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (failed > 0 || open !== tokens.length) throw new Error(`${name}: only ${open} of ${tokens.length} connections`);

  // Skip one whole boundary (everything settles), then record BOUNDARIES boundaries.
  const periodMs = PERIOD * 1000;
  const from = (Math.floor(Date.now() / periodMs) + 2) * periodMs;
  const to = from + BOUNDARIES * periodMs;
  children.forEach((c) => c.child.send({ type: "measure", from, to }));
  // Context switches and the native clients' epoll work over exactly the measured boundaries:
  // from half a period before the first one to half a period after the last one (the 100 ms
  // deadline sweep runs in between as well).
  await sleep(from - periodMs / 2 - Date.now());
  const switchesOf = () => [pid, ...children.map((c) => c.child.pid)].map(contextSwitches);
  const cpuOf = () => [pid, ...children.map((c) => c.child.pid)].map(cpuMs);
  const cpuBefore = cpuOf();
  const machineBefore = machineCpuMs();
  const switchesBefore = switchesOf();
  const native = !(CLIENT === "node" || tls);
  if (native) children.forEach((c) => c.child.send({ type: "count", on: true }));
  // The bursts alone: from 100 ms before each measured boundary to 400 ms after it, the machine's
  // busy and idle time and the CPU time of the server and the clients (10 ms ticks).
  const burst = { busy: 0, idle: 0, server: 0, clients: 0, threads: {} };
  const cpuTotal = (list) => list.map((c) => c[0] + c[1]);
  for (let k = 0; k < BOUNDARIES; ++k) {
    const at = from + k * periodMs;
    await sleep(at - 100 - Date.now());
    const m0 = machineCpuMs();
    const p0 = cpuTotal(cpuOf());
    const t0 = threadCpuMs(pid);
    await sleep(at + 400 - Date.now());
    const m1 = machineCpuMs();
    const p1 = cpuTotal(cpuOf());
    const t1 = threadCpuMs(pid);
    for (const tid of Object.keys(t1)) burst.threads[tid] = (burst.threads[tid] || 0) + t1[tid] - (t0[tid] || 0);
    burst.busy += m1.busy - m0.busy;
    burst.idle += m1.idle - m0.idle;
    burst.server += p1[0] - p0[0];
    burst.clients += p1.slice(1).reduce((a, v, i) => a + v - p0[i + 1], 0);
  }
  await sleep(to - Date.now() - periodMs / 2);  // mid-way between the last two boundaries
  const rssAfter = rssKiB(pid);
  const switchesAfter = switchesOf();
  const cpuAfter = cpuOf();
  const machineAfter = machineCpuMs();
  if (native) children.forEach((c) => c.child.send({ type: "count", on: false }));
  await sleep(periodMs);  // the last boundary is delivered
  const delta = switchesAfter.map((s, i) => [s[0] - switchesBefore[i][0], s[1] - switchesBefore[i][1]]);
  const cpu = cpuAfter.map((c, i) => [c[0] - cpuBefore[i][0], c[1] - cpuBefore[i][1]]);
  children.forEach((c) => c.child.send({ type: "report" }));
  const reports = await Promise.all(children.map((c) => next(c, "latencies")));
  // Only the native client reports the kernel's receive stamps and its epoll loop.
  const kernelReports = native ? await Promise.all(children.map((c) => next(c, "kernel"))) : [];
  const loops = native ? await Promise.all(children.map((c) => next(c, "loop"))) : [];
  const stepReports = native ? await Promise.all(children.map((c) => next(c, "steps"))) : [];
  // Per boundary (native clients): p50 / p99 / max of the application figure, in boundary order.
  const byStep = new Map();
  reports.forEach((r, i) => (stepReports[i] ? stepReports[i].values : []).forEach((start, j) => {
    if (!byStep.has(start)) byStep.set(start, []);
    byStep.get(start).push(r.values[j]);
  }));
  const perBoundary = [...byStep.keys()].sort((a, b) => a - b).map((start) => {
    const list = byStep.get(start).sort((a, b) => a - b);
    return [percentile(list, 50), percentile(list, 99), list[list.length - 1]];
  });
  children.forEach((c) => c.child.send({ type: "stop" }));
  await Promise.all(children.map((c) => new Promise((r) => (c.child.exitCode !== null ? r() : c.child.on("exit", r)))));

  const values = reports.flatMap((r) => r.values).sort((a, b) => a - b);
  const kernel = kernelReports.flatMap((r) => r.values).sort((a, b) => a - b);
  const sum = (list, f) => list.reduce((a, x) => a + f(x), 0);
  const closed = reports.reduce((a, r) => a + r.closed, 0);
  const expected = open * BOUNDARIES;
  return {
    name, open, rssBefore, rssAfter,
    perConnection: ((rssAfter - rssBefore) * 1024) / open,
    delivered: values.length, expected, closed,
    p50: percentile(values, 50), p99: percentile(values, 99), max: values[values.length - 1],
    kernel: kernel.length ? { p50: percentile(kernel, 50), p99: percentile(kernel, 99), max: kernel[kernel.length - 1] } : null,
    loop: loops.length ? { waits: sum(loops, (l) => l.waits), events: sum(loops, (l) => l.events),
                           reads: sum(loops, (l) => l.reads) } : null,
    perBoundary,
    serverSwitches: delta[0],
    serverCpu: cpu[0],
    burst,
    machineCpu: { busy: machineAfter.busy - machineBefore.busy, idle: machineAfter.idle - machineBefore.idle,
                  steal: machineAfter.steal - machineBefore.steal },
    clientCpu: [sum(cpu.slice(1), (c) => c[0]), sum(cpu.slice(1), (c) => c[1])],
    clientSwitches: [sum(delta.slice(1), (d) => d[0]), sum(delta.slice(1), (d) => d[1])],
  };
}

async function stop(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.on("exit", r));
  proc.kill("SIGTERM");
  const done = await Promise.race([exited.then(() => true), sleep(20000).then(() => false)]);
  if (!done) proc.kill("SIGKILL");
}

// Starts a server (`spawn` arguments), waits for the port it writes to portFile, measures it
// under `name` from client address block `block`, and stops it whatever happens.
async function measureServer(name, what, portFile, command, args, options, block, tokens, tls = false) {
  const server = spawn(command, args, options);
  try {
    const port = await waitForPortFile(portFile, server, what);
    await sleep(1000);
    return await measure(name, server.pid, port, tokens, block, tls);
  } finally {
    await stop(server);
  }
}

function callsigndConfig(tls) {
  return `
[log]
level = "warn"

[phone_token]
period = ${PERIOD}

[limits]
max_connections = ${CONNECTIONS + 1000}
max_connections_per_ip = ${CONNECTIONS + 1000}
${tls ? "# npm ws clients on two busy cores may take longer than the default 10 s to finish a TLS handshake\nrequest_timeout_ms = 60000" : ""}

[stream]
max_connections = ${CONNECTIONS + 1000}
` + (tls ? `
[tls]
enabled = true
listen = "127.0.0.1:0"
cert_file = "${TLS_CERT}"
key_file = "${TLS_KEY}"
` : "");
}

async function main() {
  const tokensPerUser = [];
  // --- callsignd ---
  const config = path.join(WORK, "callsign.toml");
  fs.writeFileSync(config, callsigndConfig(false));
  const portFile = path.join(WORK, "callsignd.port");
  const callsignd = spawn(CALLSIGND, ["--data-dir", path.join(WORK, "data"), "--listen", "127.0.0.1:0",
                                      "--port-file", portFile, "--config", config],
                          { stdio: ["ignore", fs.openSync(path.join(WORK, "callsignd.log"), "w"), "inherit"] });
  let ours;
  try {
    const port = await waitForPortFile(portFile, callsignd, "callsignd");
    const key = fs.readFileSync(path.join(WORK, "data", "jwt-hs256.key"));
    const started = Date.now();
    await createUsers(port, jwt(key, "bench-admin", "admin"), CONNECTIONS);
    console.log(`stream bench: ${CONNECTIONS} users created in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    for (let i = 0; i < CONNECTIONS; ++i) tokensPerUser.push(jwt(key, userId(i), "customer"));
    await sleep(1000);
    ours = await measure("callsignd", callsignd.pid, port, tokensPerUser, 1);
  } finally {
    await stop(callsignd);
  }

  // --- Node ws ---
  const nodeServer = path.join(__dirname, "stream_node_server.js");
  const nodePortFile = path.join(WORK, "node.port");
  const theirs = await measureServer("node-ws", "the Node ws server", nodePortFile, process.execPath,
                                     [nodeServer, "--port-file", nodePortFile, "--period", String(PERIOD)],
                                     { stdio: "inherit" }, 2, tokensPerUser);

  // --- the floor: the same clients against the cheapest push server (native clients only) ---
  let floor = null;
  if (FLOOR_SERVER && CLIENT === "native") {
    const floorPortFile = path.join(WORK, "floor.port");
    floor = await measureServer("floor", "the floor server", floorPortFile, FLOOR_SERVER,
                                ["--port-file", floorPortFile, "--period", String(PERIOD)], { stdio: "inherit" }, 5,
                                tokensPerUser);
  }

  // --- TLS: callsignd (same data directory, users already there) and Node over https ---
  let oursTls = null;
  let theirsTls = null;
  if (TLS_CERT) {
    const tlsConfig = path.join(WORK, "callsign-tls.toml");
    fs.writeFileSync(tlsConfig, callsigndConfig(true));
    const tlsPortFile = path.join(WORK, "callsignd-tls.port");
    oursTls = await measureServer("callsignd-wss", "callsignd (TLS)", tlsPortFile, CALLSIGND,
                                  ["--data-dir", path.join(WORK, "data"), "--listen", "127.0.0.1:0",
                                   "--port-file", path.join(WORK, "callsignd-2.port"), "--config", tlsConfig,
                                   "--tls-port-file", tlsPortFile],
                                  { stdio: ["ignore", fs.openSync(path.join(WORK, "callsignd-tls.log"), "w"), "inherit"] },
                                  3, tokensPerUser, true);
    const peerTlsPortFile = path.join(WORK, "node-tls.port");
    theirsTls = await measureServer("node-wss", "the Node wss server", peerTlsPortFile, process.execPath,
                                    [nodeServer, "--port-file", peerTlsPortFile, "--period", String(PERIOD),
                                     "--tls-cert", TLS_CERT, "--tls-key", TLS_KEY],
                                    { stdio: "inherit" }, 4, tokensPerUser, true);
  }

  const ok = printReport({ ours, theirs, floor, oursTls, theirsTls },
                        { connections: CONNECTIONS, processes: PROCESSES, period: PERIOD, boundaries: BOUNDARIES,
                          clientSched: CLIENT_SCHED });
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  console.error("stream bench: " + (e.stack || e));
  process.exit(1);
});
