// Integration: how GET /v1/stream connections end, against the real callsignd with npm `ws` as
// the client: keep-alive pings and the idle close, and the 1012 close on shutdown. Then, on a
// second server with a 1-second period and small stream limits, the slow-consumer bound: a
// client that stops reading is closed (and counted in /metrics) while another dashboard of the
// same user keeps getting tokens.
// Usage: node stream_lifetime_test.js --callsignd PATH --callsign PATH
"use strict";

const { spawn } = require("child_process");
const { WebSocket, CONFIG, USERS, check, Client, openAuthed, runSuite } = require("./stream_support");

const cases = [];
const test = (name, fn) => cases.push({ name, fn });

test("keep-alive: a client that answers no ping is closed after idle_timeout_ms; one that answers stays", async (S) => {
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

// Stops the server: the last case on it.
test("on shutdown, streams get an error and close 1012", async (S) => {
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

runSuite([
  { config: CONFIG, users: USERS, cases },
  { config: SLOW_CONFIG, users: [], cases: [{
    name: "slow consumer: closed and counted; the other dashboard keeps its tokens",
    fn: slowConsumerCase,
    details: (server) => server.stdout.split("\n").filter((l) => l.includes("stream closed")).slice(0, 5),
  }] },
]);
