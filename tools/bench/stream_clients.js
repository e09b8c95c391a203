// One client process of tools/bench/stream (the per-process descriptor limit is 20,000, so the
// connections are spread over several). Opens one WebSocket per token in --tokens (a file with
// one customer JWT per line), authenticates with {"type":"auth","token":...}, and records when
// each boundary's token message arrives. Talks to the parent over the IPC channel:
//   -> {type:"ready", open, failed}       every connection got its first token (or failed)
//   <- {type:"measure", from, to}         record arrivals of tokens whose step starts in [from, to) ms
//   -> {type:"latencies", values, closed} milliseconds from step start to arrival, one per message
//   <- {type:"stop"}
// Usage (from tools/bench/stream): node stream_clients.js --url URL --tokens FILE
//                                  --local-address 127.0.x.y [--concurrency 200] [--ca PEM]
// (--ca: the certificate a wss:// server must present)
"use strict";

const fs = require("fs");
const tls = require("tls");
const { performance } = require("perf_hooks");
const WebSocket = require("ws");

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const url = arg("--url");
const tokens = fs.readFileSync(arg("--tokens"), "utf8").split("\n").filter(Boolean);
const localAddress = arg("--local-address", "127.0.0.1");
const concurrency = Number(arg("--concurrency", "200"));
// One TLS context for every connection (ws would otherwise build one per connection from `ca`).
const secureContext = arg("--ca") ? tls.createSecureContext({ ca: fs.readFileSync(arg("--ca")) }) : undefined;

let window = null;  // {from, to}
const values = [];
let closedDuringRun = 0;
let open = 0;
let failed = 0;
const sockets = [];

function connect(token) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { localAddress, perMessageDeflate: false, handshakeTimeout: 60000, secureContext });
    let first = true;
    ws.on("open", () => ws.send(JSON.stringify({ type: "auth", token })));
    ws.on("message", (data) => {
      const now = performance.timeOrigin + performance.now();  // before any parsing
      const m = JSON.parse(data.toString());
      if (m.type !== "token") return;
      if (first) {
        first = false;
        open += 1;
        resolve();
        return;
      }
      const start = (m.expires_at - m.period) * 1000;
      if (window && start >= window.from && start < window.to) values.push(now - start);
    });
    ws.on("close", () => {
      if (first) {
        first = false;
        failed += 1;
        resolve();
      } else {
        closedDuringRun += 1;
      }
    });
    ws.on("error", () => {});
    sockets.push(ws);
  });
}

async function main() {
  let next = 0;
  const workers = [];
  for (let w = 0; w < concurrency; ++w) {
    workers.push((async () => {
      while (next < tokens.length) {
        const i = next++;
        await connect(tokens[i]);
      }
    })());
  }
  await Promise.all(workers);
  process.send({ type: "ready", open, failed });
}

process.on("message", (m) => {
  if (m.type === "measure") {
    window = { from: m.from, to: m.to };
  } else if (m.type === "report") {
    process.send({ type: "latencies", values, closed: closedDuringRun });
  } else if (m.type === "stop") {
    for (const ws of sockets) ws.terminate();
    setTimeout(() => process.exit(0), 100);
  }
});

main().catch((e) => {
  console.error("stream clients: " + (e.stack || e));
  process.exit(1);
});
