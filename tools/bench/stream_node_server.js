// The peer of tools/bench/stream: a minimal push server on npm `ws`, doing what callsignd's
// GET /v1/stream does in the steady state the benchmark measures. A client sends
// {"type":"auth","token":JWT} first; the server takes the JWT's `sub` as the user (without
// checking the signature: the peer does not pay for authentication), answers with the current
// token-shaped message, and at every step boundary builds each user's message once (an HMAC of
// user and step, like a phone token) and sends it to each of the user's connections.
// With --tls-cert/--tls-key it serves wss:// from https.createServer (Node's TLS, which sets
// SSL_MODE_RELEASE_BUFFERS too), the peer of callsignd's [tls] listener.
// Usage: node stream_node_server.js --port-file PATH --period SECONDS [--tls-cert PEM --tls-key PEM]
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const https = require("https");
const { WebSocketServer } = require("ws");

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const portFile = arg("--port-file");
const period = Number(arg("--period", "2"));
const key = crypto.randomBytes(32);
const users = new Map();  // user -> Set of sockets

function tokenMessage(user, step) {
  const mac = crypto.createHmac("sha256", key).update(user + ":" + step).digest();
  const code = String(mac.readUInt32BE(0) % 1000000).padStart(6, "0");
  return JSON.stringify({ type: "token", token: code, step, expires_at: (step + 1) * period, period });
}

const tlsCert = arg("--tls-cert");
const options = { maxPayload: 4096, perMessageDeflate: false, clientTracking: false };
let server = null;
let wss;
if (tlsCert) {
  server = https.createServer({ cert: fs.readFileSync(tlsCert), key: fs.readFileSync(arg("--tls-key")),
                                minVersion: "TLSv1.2" });
  wss = new WebSocketServer({ server, ...options });
} else {
  wss = new WebSocketServer({ host: "127.0.0.1", port: 0, backlog: 4096, ...options });
}
wss.on("connection", (ws) => {
  let user = null;
  ws.once("message", (data) => {
    let sub = null;
    try {
      const m = JSON.parse(data.toString());
      const payload = JSON.parse(Buffer.from(String(m.token).split(".")[1], "base64url").toString());
      sub = typeof payload.sub === "string" ? payload.sub : null;
    } catch (e) {
      sub = null;
    }
    if (!sub) {
      ws.close(1008, "bad auth");
      return;
    }
    user = sub;
    if (!users.has(user)) users.set(user, new Set());
    users.get(user).add(ws);
    ws.send(tokenMessage(user, Math.floor(Date.now() / 1000 / period)));
  });
  ws.on("close", () => {
    if (user === null) return;
    const set = users.get(user);
    set.delete(ws);
    if (set.size === 0) users.delete(user);
  });
  ws.on("error", () => {});
});

function scheduleBoundary() {
  const now = Date.now();
  const next = (Math.floor(now / 1000 / period) + 1) * period * 1000;
  setTimeout(() => {
    const step = Math.round(next / 1000 / period);
    for (const [user, set] of users) {
      const message = Buffer.from(tokenMessage(user, step));  // encoded once per user
      for (const ws of set) ws.send(message, { binary: false });
    }
    scheduleBoundary();
  }, next - now + 1);
}

function announce(port) {
  fs.writeFileSync(portFile + ".tmp", String(port) + "\n");
  fs.renameSync(portFile + ".tmp", portFile);
  scheduleBoundary();
}
if (server) {
  server.listen({ host: "127.0.0.1", port: 0, backlog: 4096 }, () => announce(server.address().port));
} else {
  wss.on("listening", () => announce(wss.address().port));
}
process.on("SIGTERM", () => process.exit(0));
