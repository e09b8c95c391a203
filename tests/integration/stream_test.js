// Integration: GET /v1/stream (WebSocket) against the real callsignd, with npm `ws` as the
// client. Auth success/failure/timeout, tokens equal to `callsign phone-token` across a step
// boundary (2-second period), the `verified` notice after an agent's verify, Origin refusal,
// `authenticator` notices on enrollment start/confirm/removal, keep-alive pings and the idle
// close, caps, frame size, the 426 for a plain GET, and the 1012 close on shutdown. Then, on a
// second server with a 1-second period and small stream limits, the slow-consumer bound: a
// client that stops reading is closed (and counted in /metrics) while another dashboard of the
// same user keeps getting tokens.
// Usage: node stream_test.js --callsignd PATH --callsign PATH
"use strict";

const { spawn, execFileSync } = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
const os = require("os");
const path = require("path");

let WebSocket;
try {
  WebSocket = require("ws");
} catch (e) {
  console.error("FAIL: npm package 'ws' is missing; run (cd tests/integration && npm install) or ./tools/test");
  process.exit(1);
}

function arg(name) {
  const i = process.argv.indexOf(name);
  if (i < 0 || i + 1 >= process.argv.length) throw new Error("missing " + name);
  return process.argv[i + 1];
}
const CALLSIGND = arg("--callsignd");
const CALLSIGN = arg("--callsign");
const PERIOD = 2;
const CONFIG = `
[phone_token]
period = ${PERIOD}

[verify]
user_failures = 100000
agent_failures = 100000
ip_failures = 100000

[stream]
allowed_origins = ["https://app.example"]
auth_timeout_ms = 1500
idle_timeout_ms = 6000
max_connections_per_user = 3
max_message_bytes = 1024
`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function check(cond, message) {
  if (!cond) throw new Error(message);
}

class Server {
  constructor(configText) {
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), "callsign-ws-"));
    this.dataDir = path.join(this.tmp, "data");
    this.portFile = path.join(this.tmp, "port");
    const configPath = path.join(this.tmp, "callsign.toml");
    fs.writeFileSync(configPath, configText);
    this.stdout = "";
    this.stderr = "";
    this.proc = spawn(CALLSIGND, ["--data-dir", this.dataDir, "--listen", "127.0.0.1:0", "--port-file",
                                  this.portFile, "--config", configPath]);
    this.proc.stdout.on("data", (d) => { this.stdout += d; });
    this.proc.stderr.on("data", (d) => { this.stderr += d; });
    this.exited = new Promise((resolve) => this.proc.on("exit", (code, signal) => resolve({ code, signal })));
    this.tokens = new Map();
  }

  async start() {
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
      if (fs.existsSync(this.portFile)) {
        const text = fs.readFileSync(this.portFile, "utf8").trim();
        if (text) {
          this.port = Number(text);
          return this;
        }
      }
      if (this.proc.exitCode !== null) throw new Error("callsignd exited early: " + this.stderr);
      await sleep(50);
    }
    throw new Error("callsignd did not write its port file");
  }

  token(role, sub, ttl) {
    const key = role + "/" + sub + "/" + (ttl || "");
    if (!this.tokens.has(key)) {
      const args = ["token", "--data-dir", this.dataDir, "--role", role, "--sub", sub];
      if (ttl) args.push("--ttl", String(ttl));
      this.tokens.set(key, execFileSync(CALLSIGN, args, { encoding: "utf8" }).trim());
    }
    return this.tokens.get(key);
  }

  phoneToken(user, step) {
    return execFileSync(CALLSIGN, ["phone-token", "--data-dir", this.dataDir, "--user", user, "--period",
                                   String(PERIOD), "--time", String(step * PERIOD)], { encoding: "utf8" }).trim();
  }

  async request(method, urlPath, body, token, extraHeaders) {
    const headers = Object.assign({}, extraHeaders || {});
    if (token) headers.Authorization = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(`http://127.0.0.1:${this.port}${urlPath}`,
                            { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  }

  async putUser(id, email) {
    const res = await this.request("PUT", "/v1/users/" + id, { email, phone_support: true },
                                   this.token("admin", "ops-1"));
    check(res.status === 200 || res.status === 201, `PUT user ${id}: ${res.status} ${JSON.stringify(res.body)}`);
  }

  async stop() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGTERM");
    const done = await Promise.race([this.exited, sleep(30000).then(() => null)]);
    if (done === null) this.proc.kill("SIGKILL");
    return done;
  }

  crashReport() {
    const lines = this.stderr.split("\n").filter((l) => /ERROR: |SUMMARY: |runtime error:/.test(l));
    return lines.slice(0, 4).join(" | ");
  }

  cleanup() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

// A stream client that queues server messages and remembers how the connection closed.
class Client {
  constructor(server, options) {
    this.messages = [];
    this.seen = [];  // every raw text frame received
    this.waiters = [];
    this.ws = new WebSocket(`ws://127.0.0.1:${server.port}/v1/stream`, options || {});
    this.closed = new Promise((resolve) => {
      this.ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.on("open", resolve);
      this.ws.on("unexpected-response", (req, res) => {
        req.destroy();
        reject(Object.assign(new Error("HTTP " + res.statusCode), { status: res.statusCode }));
      });
      this.ws.on("error", reject);
    });
    this.ws.on("message", (data, isBinary) => {
      check(!isBinary, "server sent a binary frame");
      this.seen.push(data.toString());
      this.messages.push(JSON.parse(data.toString()));
      this.waiters.splice(0).forEach((w) => w());
    });
    this.ws.on("close", () => this.waiters.splice(0).forEach((w) => w()));
  }

  auth(token) {
    this.ws.send(JSON.stringify({ type: "auth", token }));
  }

  // The next message (of `type`, if given) within `ms`; earlier messages of other types are skipped.
  async next(type, ms) {
    const deadline = Date.now() + (ms || 5000);
    for (;;) {
      const i = this.messages.findIndex((m) => !type || m.type === type);
      if (i >= 0) return this.messages.splice(0, i + 1)[i];
      const left = deadline - Date.now();
      if (left <= 0 || this.ws.readyState === WebSocket.CLOSED) {
        throw new Error(`no ${type || "message"} within ${ms || 5000} ms (have ${JSON.stringify(this.messages)})`);
      }
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  async closedWithin(ms) {
    const result = await Promise.race([this.closed, sleep(ms).then(() => null)]);
    check(result !== null, `not closed within ${ms} ms`);
    return result;
  }

  close() {
    this.ws.terminate();
  }
}

// RFC 6238 TOTP (SHA1, 6 digits, 30 s: the authenticator defaults) from a base32 secret; the
// test plays the customer's authenticator app.
function authenticatorCode(base32Secret, unixSeconds) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of base32Secret.replace(/=+$/, "").toUpperCase()) {
    const v = alphabet.indexOf(ch);
    check(v >= 0, "secret is not base32");
    bits += v.toString(2).padStart(5, "0");
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = crypto.createHmac("sha1", Buffer.from(bytes)).update(counter).digest();
  const o = mac[mac.length - 1] & 0x0f;
  const n = ((mac[o] & 0x7f) << 24) | (mac[o + 1] << 16) | (mac[o + 2] << 8) | mac[o + 3];
  return String(n % 1000000).padStart(6, "0");
}

async function openAuthed(server, user) {
  const token = server.token("customer", user);  // minted first: the CLI may be slow to start
  const c = new Client(server);
  await c.opened;
  c.auth(token);
  const first = await c.next("token", 5000);
  return { c, first };
}

function craftedToken(server, claims) {
  const key = fs.readFileSync(path.join(server.dataDir, "jwt-hs256.key"));
  const b64 = (x) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");
  const input = b64({ alg: "HS256", typ: "JWT" }) + "." + b64(claims);
  return input + "." + crypto.createHmac("sha256", key).update(input).digest("base64url");
}

async function expectRefusal(server, token, expectedError) {
  const c = new Client(server);
  await c.opened;
  c.ws.send(token);
  const err = await c.next("error", 5000);
  check(expectedError.test(err.error), `error ${JSON.stringify(err)} does not match ${expectedError}`);
  check(!JSON.stringify(err).includes("eyJ"), "the error message echoes the token");
  const closed = await c.closedWithin(5000);
  check(closed.code === 1008, `close code ${closed.code}, want 1008`);
}

const cases = [];
const ONLY_SLOW = process.env.STREAM_TEST_ONLY_SLOW === "1";  // debugging aid
const test = (name, fn) => cases.push({ name, fn });
let S;  // the shared server

test("auth success: the first message is the user's current token", async () => {
  const { c, first } = await openAuthed(S, "u-alice");
  check(first.type === "token", JSON.stringify(first));
  check(first.period === PERIOD, "period " + first.period);
  check(first.expires_at === (first.step + 1) * PERIOD, "expires_at " + first.expires_at);
  check(first.token === S.phoneToken("u-alice", first.step),
        `stream token for step ${first.step} differs from callsign phone-token`);
  c.close();
});

test("tokens across a step boundary equal callsign phone-token", async () => {
  const { c, first } = await openAuthed(S, "u-alice");
  const second = await c.next("token", (PERIOD + 2) * 1000);
  check(second.step === first.step + 1, `steps ${first.step} then ${second.step}`);
  check(second.token === S.phoneToken("u-alice", second.step), "boundary token differs from callsign phone-token");
  // Pushed at the boundary, not polled: it arrives soon after the step starts.
  const late = Date.now() / 1000 - second.step * PERIOD;
  check(late < 1.0, `boundary token arrived ${late.toFixed(3)} s after the step started`);
  const third = await c.next("token", (PERIOD + 2) * 1000);
  check(third.step === second.step + 1 && third.token === S.phoneToken("u-alice", third.step), "third token");
  c.close();
});

test("every dashboard of the user gets the boundary token", async () => {
  const a = await openAuthed(S, "u-bob");
  const b = await openAuthed(S, "u-bob");
  const ta = await a.c.next("token", (PERIOD + 2) * 1000);
  const tb = await b.c.next("token", (PERIOD + 2) * 1000);
  check(ta.step === tb.step && ta.token === tb.token, "dashboards disagree");
  a.c.close();
  b.c.close();
});

test("wrong, expired and non-customer tokens get an error and close 1008", async () => {
  await expectRefusal(S, JSON.stringify({ type: "auth", token: "not-a-jwt" }), /invalid or expired token/);
  const now = Math.floor(Date.now() / 1000);
  const expired = craftedToken(S, { iss: "callsign", aud: "callsign", sub: "u-alice", role: "customer",
                                    iat: now - 7200, exp: now - 3600 });
  await expectRefusal(S, JSON.stringify({ type: "auth", token: expired }), /invalid or expired token/);
  await expectRefusal(S, JSON.stringify({ type: "auth", token: S.token("agent", "agent-1") }), /./);
  await expectRefusal(S, JSON.stringify({ type: "auth", token: S.token("customer", "u-nobody") }), /not registered/);
  await expectRefusal(S, "hello", /first message/);
  // The token is never logged.
  const bad = S.token("agent", "agent-1");
  check(!S.stdout.includes(bad) && !S.stdout.includes(expired), "a token appears in the server log");
});

test("no auth message within auth_timeout_ms: error, then close 1008", async () => {
  const c = new Client(S);
  await c.opened;
  const started = Date.now();
  const err = await c.next("error", 5000);
  check(/timed out/.test(err.error), JSON.stringify(err));
  const closed = await c.closedWithin(3000);
  check(closed.code === 1008, "close code " + closed.code);
  const took = Date.now() - started;
  check(took >= 1200 && took < 4000, `closed after ${took} ms, want about 1500`);
});

test("a foreign Origin is refused with 403 before the upgrade; a listed one is allowed", async () => {
  const evil = new Client(S, { origin: "https://evil.example" });
  let status = 0;
  try {
    await evil.opened;
  } catch (e) {
    status = e.status;
  }
  check(status === 403, "foreign Origin got " + status);
  const good = new Client(S, { origin: "https://app.example" });
  await good.opened;
  good.auth(S.token("customer", "u-alice"));
  const first = await good.next("token", 5000);
  check(first.token === S.phoneToken("u-alice", first.step), "token over an allowed Origin");
  good.close();
});

test("verified message after an agent's POST /v1/verify", async () => {
  const { c } = await openAuthed(S, "u-carol");
  const other = await openAuthed(S, "u-alice");
  let ok = false;
  const before = Math.floor(Date.now() / 1000);
  for (let attempt = 0; attempt < 3 && !ok; ++attempt) {
    const current = await S.request("GET", "/v1/me/phone-token", undefined, S.token("customer", "u-carol"));
    check(current.status === 200, "phone-token " + current.status);
    const res = await S.request("POST", "/v1/verify", { user: "u-carol", code: current.body.token },
                                S.token("agent", "agent-7"));
    check(res.status === 200, `verify: ${res.status} ${JSON.stringify(res.body)}`);
    ok = res.body.valid === true;
  }
  check(ok, "verification never succeeded");
  const notice = await c.next("verified", 5000);
  check(notice.agent === "agent-7" && notice.method === "phone_token", JSON.stringify(notice));
  check(notice.at >= before && notice.at <= Math.floor(Date.now() / 1000) + 1, "at " + notice.at);
  await sleep(300);
  check(!other.c.messages.some((m) => m.type === "verified"), "another user's dashboard saw the notice");
  c.close();
  other.c.close();
});

test("authenticator notices on enrollment start, confirm and removal, without secrets", async () => {
  const a = await openAuthed(S, "u-erin");
  const b = await openAuthed(S, "u-erin");
  const other = await openAuthed(S, "u-alice");
  const customer = S.token("customer", "u-erin");
  const expectNotice = async (state, before) => {
    for (const d of [a, b]) {
      const m = await d.c.next("authenticator", 5000);
      check(m.state === state, `state ${JSON.stringify(m)}, want ${state}`);
      check(m.at >= before && m.at <= Math.floor(Date.now() / 1000) + 1, "at " + m.at);
      check(Object.keys(m).sort().join(",") === "at,state,type", "unexpected fields " + JSON.stringify(m));
    }
  };

  let before = Math.floor(Date.now() / 1000);
  const started = await S.request("POST", "/v1/me/authenticator", undefined, customer);
  check(started.status === 201, `enroll: ${started.status} ${JSON.stringify(started.body)}`);
  const secret = started.body.secret;
  await expectNotice("pending", before);

  // A wrong code changes nothing: no notice.
  const good = authenticatorCode(secret, Date.now() / 1000);
  const wrong = good === "000000" ? "111111" : "000000";
  const refused = await S.request("POST", "/v1/me/authenticator/confirm", { code: wrong }, customer);
  check(refused.status >= 400, "wrong confirm code accepted: " + refused.status);

  before = Math.floor(Date.now() / 1000);
  const confirmed = await S.request("POST", "/v1/me/authenticator/confirm",
                                    { code: authenticatorCode(secret, Date.now() / 1000) }, customer);
  check(confirmed.status === 200, `confirm: ${confirmed.status} ${JSON.stringify(confirmed.body)}`);
  await expectNotice("active", before);

  before = Math.floor(Date.now() / 1000);
  const removed = await S.request("DELETE", "/v1/me/authenticator", undefined, customer);
  check(removed.status === 204, "remove: " + removed.status);
  await expectNotice("none", before);

  await sleep(300);
  for (const d of [a, b]) {
    check(!d.c.messages.some((m) => m.type === "authenticator"), "an extra authenticator notice");
  }
  check(!other.c.messages.some((m) => m.type === "authenticator"), "another user's dashboard saw the notice");
  const everything = JSON.stringify([a.c.seen, b.c.seen]);
  check(!everything.includes(secret) && !everything.includes("otpauth"), "a stream message carried the secret");
  a.c.close();
  b.c.close();
  other.c.close();
});

test("keep-alive: a client that answers no ping is closed after idle_timeout_ms; one that answers stays", async () => {
  const token = S.token("customer", "u-bob");
  const silent = new Client(S, { autoPong: false });
  let pinged = false;
  silent.ws.on("ping", () => { pinged = true; });
  await silent.opened;
  silent.auth(token);
  await silent.next("token", 5000);
  const live = await openAuthed(S, "u-bob");  // npm ws answers pings by itself
  await silent.closedWithin(30000);
  check(pinged, "closed without a keep-alive ping first");
  check(live.c.ws.readyState === WebSocket.OPEN, "the client that answers pings was closed too");
  live.c.close();
});

test("per-user cap: the extra stream gets an error and close 1013", async () => {
  const open = [];
  for (let i = 0; i < 3; ++i) open.push(await openAuthed(S, "u-dave"));
  const extra = new Client(S);
  await extra.opened;
  extra.auth(S.token("customer", "u-dave"));
  const err = await extra.next("error", 5000);
  check(/too many/.test(err.error), JSON.stringify(err));
  const closed = await extra.closedWithin(5000);
  check(closed.code === 1013, "close code " + closed.code);
  open.forEach((o) => o.c.close());
  await sleep(300);  // the server notices the closes
  const again = await openAuthed(S, "u-dave");
  again.c.close();
});

test("a client message over max_message_bytes closes with 1009", async () => {
  const c = new Client(S);
  await c.opened;
  c.ws.send("x".repeat(5000));
  const closed = await c.closedWithin(5000);
  check(closed.code === 1009, "close code " + closed.code);
});

test("a plain GET /v1/stream is 426 Upgrade Required", async () => {
  const res = await S.request("GET", "/v1/stream");
  check(res.status === 426, "status " + res.status);
  check(res.headers.get("content-type").startsWith("application/problem+json"), "content type");
});

test("on shutdown, streams get an error and close 1012", async () => {
  const { c } = await openAuthed(S, "u-alice");
  const pending = new Client(S);  // not yet authenticated
  await pending.opened;
  const exit = S.stop();
  const err = await c.next("error", 10000);
  check(/restart/.test(err.error), JSON.stringify(err));
  const closed = await c.closedWithin(10000);
  check(closed.code === 1012, "close code " + closed.code);
  const closedPending = await pending.closedWithin(10000);
  check(closedPending.code === 1012, "pending close code " + closedPending.code);
  const done = await exit;
  check(done && done.code === 0, "callsignd exit " + JSON.stringify(done));
});

// --- slow consumer ------------------------------------------------------------------------
const SLOW_CONFIG = `
[phone_token]
period = 1

[verify]
user_failures = 100000
agent_failures = 100000
ip_failures = 100000

[stream]
write_timeout_ms = 500
outbox_messages = 64
`;

async function metricValue(server, name) {
  const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
  const text = await res.text();
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return line ? Number(line.split(" ")[1]) : NaN;
}

// A stream client that really stops reading. Node cannot shrink a socket's receive buffer, and
// Linux keeps growing the buffer of a socket that is not read (it held well over 100 KB of
// 70-byte messages here), so this client is a small Python program with SO_RCVBUF = 4 KiB: it
// upgrades, authenticates, prints "ready" after its first token and then reads nothing until it
// gets a line on stdin; then it reads to the end and prints "ended".
const PAUSED_CLIENT = `
import base64, json, os, socket, struct, sys
port, token = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /v1/stream HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"
           "Sec-WebSocket-Key: " + key + "\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n").encode())
data = b""
while b"\\r\\n\\r\\n" not in data:
    data += s.recv(4096)
assert data.startswith(b"HTTP/1.1 101"), data[:40]
data = data[data.index(b"\\r\\n\\r\\n") + 4:]
payload = json.dumps({"type": "auth", "token": token}).encode()
mask = os.urandom(4)
head = bytes([0x81, 0x80 | 126]) + struct.pack("!H", len(payload)) if len(payload) > 125 else bytes([0x81, 0x80 | len(payload)])
s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
while b'"type":"token"' not in data:
    data += s.recv(4096)
print("ready", flush=True)
sys.stdin.readline()
while s.recv(65536):
    pass
print("ended", flush=True)
`;

function pausedStream(server, token) {
  const proc = spawn("python3", ["-c", PAUSED_CLIENT, String(server.port), token]);
  let out = "";
  let err = "";
  const waiters = [];
  proc.stdout.on("data", (d) => {
    out += d;
    waiters.splice(0).forEach((w) => w());
  });
  proc.stderr.on("data", (d) => { err += d; });
  const exited = new Promise((resolve) => proc.on("exit", resolve));
  const said = async (word, ms) => {
    const deadline = Date.now() + ms;
    while (!out.split("\n").includes(word)) {
      if (proc.exitCode !== null) throw new Error("paused client exited: " + err.trim().split("\n").pop());
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => {
        const t = setTimeout(resolve, 200);
        waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return true;
  };
  return { proc, said, exited, read: () => proc.stdin.write("read\n") };
}

async function slowConsumerCase(server) {
  const user = "u-slow";
  await server.putUser(user, "slow@example.com");
  const customer = server.token("customer", user);
  const agent = server.token("agent", "agent-slow");
  const before = await metricValue(server, "callsign_stream_slow_consumer_closes_total");
  check(before === 0, "slow-consumer counter before: " + before);

  const normal = await openAuthed(server, user);
  const slow = pausedStream(server, customer);
  check(await slow.said("ready", 20000), "the paused client did not get its first token");

  // Messages for the user: enrollment restarts (an `authenticator` notice each) and successful
  // verifies (a `verified` notice each; at most one per phone-token step).
  let counted = 0;
  let requests = 0;
  const deadline = Date.now() + 240000;
  let lastVerifiedStep = -1;
  while (Date.now() < deadline) {
    const batch = [];
    // Batches well below outbox_messages: a burst larger than the outbox overflows even a
    // dashboard that reads, before its strand gets to write the first message.
    for (let i = 0; i < 8; ++i) batch.push(server.request("POST", "/v1/me/authenticator", undefined, customer));
    const results = await Promise.all(batch);
    requests += batch.length;
    for (const r of results) check(r.status === 201, "enroll " + r.status);
    const current = await server.request("GET", "/v1/me/phone-token", undefined, customer);
    if (current.status === 200 && current.body.step !== lastVerifiedStep) {
      lastVerifiedStep = current.body.step;
      await server.request("POST", "/v1/verify", { user, code: current.body.token }, agent);
    }
    if (requests % 80 === 0) {
      counted = await metricValue(server, "callsign_stream_slow_consumer_closes_total");
      if (counted >= 1) break;
    }
  }
  check(counted === 1, `slow-consumer closes counted: ${counted} after ${requests} requests`);
  check(normal.c.ws.readyState === WebSocket.OPEN,
        "the reading dashboard was closed too: " + JSON.stringify(normal.c.messages.filter((m) => m.type === "error")));

  // The reading dashboard of the same user still gets every boundary's token.
  const t1 = await normal.c.next("token", 10000);
  const t2 = await normal.c.next("token", 10000);
  check(t2.step > t1.step, `tokens after the slow close: steps ${t1.step}, ${t2.step}`);
  check(normal.c.seen.some((m) => m.includes('"type":"authenticator"')), "the reading dashboard got no notices");

  // The slow connection really ends: once read again, it reaches its end.
  slow.read();
  const ended = await slow.said("ended", 60000);
  if (!ended) slow.proc.kill();
  check(ended, "the slow connection did not end within 60 s of reading again");
  await slow.exited;
  normal.c.close();
}

async function main() {
  S = await new Server(CONFIG).start();
  let failed = 0;
  try {
    for (const user of ["u-alice", "u-bob", "u-carol", "u-dave", "u-erin"]) await S.putUser(user, user + "@example.com");
    for (const { name, fn } of ONLY_SLOW ? [] : cases) {
      const started = Date.now();
      try {
        await fn();
        console.log(`PASS ${name} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
      } catch (e) {
        failed += 1;
        console.log(`FAIL ${name}: ${e.message}`);
        const report = S.crashReport();
        if (report) console.log("     callsignd: " + report);
      }
    }
  } finally {
    await S.stop();
    S.cleanup();
  }
  const slowServer = await new Server(SLOW_CONFIG).start();
  const started = Date.now();
  try {
    await slowConsumerCase(slowServer);
    console.log(`PASS slow consumer: closed and counted; the other dashboard keeps its tokens (${((Date.now() - started) / 1000).toFixed(1)}s)`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL slow consumer: ${e.message}`);
    slowServer.stdout.split("\n").filter((l) => l.includes("stream closed")).slice(0, 5)
      .forEach((l) => console.log("     callsignd: " + l));
    const report = slowServer.crashReport();
    if (report) console.log("     callsignd: " + report);
  } finally {
    await slowServer.stop();
    slowServer.cleanup();
  }
  console.log(`${(ONLY_SLOW ? 0 : cases.length) + 1 - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.log("FAIL setup: " + (e.stack || e));
  if (S) S.cleanup();
  process.exit(1);
});
