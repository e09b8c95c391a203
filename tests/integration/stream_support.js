// Shared parts of the GET /v1/stream integration suites (stream_*_test.js): the real callsignd
// on port 0 in a temporary directory, tokens from the callsign CLI, an npm `ws` client that
// queues server messages, and a runner that starts a server per group of cases.
// Suites take: --callsignd PATH --callsign PATH
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
// The server most cases share: a 2-second period and small stream limits.
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
const USERS = ["u-alice", "u-bob", "u-carol", "u-dave", "u-erin"];

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
    // "close", not "exit": stderr has been read to its end, a sanitizer report included.
    this.exited = new Promise((resolve) => this.proc.on("close", (code, signal) => resolve({ code, signal })));
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

  // SIGTERM (if still running) and the exit: { code, signal }, or null if it outlived 30 s (then
  // it is killed). Stopping again returns the same exit.
  async stop() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGTERM");
    const done = await Promise.race([this.exited, sleep(30000).then(() => null)]);
    if (done === null) {
      this.proc.kill("SIGKILL");
      this.stopTimedOut = true;
      await this.exited;
    }
    return this.stopTimedOut ? null : done;
  }

  // Stops the server; why it did not stop cleanly on SIGTERM (exit 0, no sanitizer report), or "".
  async exitProblem() {
    const done = await this.stop();
    const report = this.crashReport();
    if (done && done.code === 0 && !report) return "";
    const why = done ? `exited with ${JSON.stringify(done)}, expected code 0` : "did not exit within 30 s of SIGTERM";
    const tail = report || this.stderr.trim().split("\n").slice(-4).join(" | ");
    return `callsignd (pid ${this.proc.pid}, port ${this.port}) ${why}${tail ? ": " + tail : ""}`;
  }

  crashReport() {
    const lines = this.stderr.split("\n").filter((l) => /ERROR: \w*Sanitizer|SUMMARY: \w*Sanitizer|runtime error:/.test(l));
    return lines.slice(0, 4).join(" | ");
  }

  // Kills a server that is still running (its setup failed) and removes its directory.
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

async function openAuthed(server, user) {
  const token = server.token("customer", user);  // minted first: the CLI may be slow to start
  const c = new Client(server);
  await c.opened;
  c.auth(token);
  const first = await c.next("token", 5000);
  return { c, first };
}

// Runs each group on its own server: start it with `config`, create `users`, run the cases in
// order (each gets the server), then stop it with SIGTERM as one more case, which requires exit 0
// and no sanitizer report (LeakSanitizer reports at exit). A case's optional `details(server)`
// adds lines to its FAIL report. Prints PASS/FAIL per case and a total; exits 1 if any failed.
async function runGroups(groups) {
  let passed = 0;
  let failed = 0;
  for (const { config, users, cases } of groups) {
    const server = new Server(config);
    try {
      await server.start();
      for (const user of users) await server.putUser(user, user + "@example.com");
      for (const { name, fn, details } of cases) {
        const started = Date.now();
        try {
          await fn(server);
          passed += 1;
          console.log(`PASS ${name} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
        } catch (e) {
          failed += 1;
          console.log(`FAIL ${name}: ${e.message}`);
          if (details) details(server).forEach((l) => console.log("     callsignd: " + l));
          const report = server.crashReport();
          if (report) console.log("     callsignd: " + report);
        }
      }
      const problem = await server.exitProblem();
      if (problem) {
        failed += 1;
        console.log(`FAIL callsignd exits 0 on SIGTERM: ${problem}`);
      } else {
        passed += 1;
        console.log("PASS callsignd exits 0 on SIGTERM");
      }
    } finally {
      server.cleanup();  // kills only a server whose setup failed
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

function runSuite(groups) {
  runGroups(groups).catch((e) => {
    console.log("FAIL setup: " + (e.stack || e));
    process.exit(1);
  });
}

module.exports = { WebSocket, PERIOD, CONFIG, USERS, sleep, check, Server, Client, openAuthed, runSuite };
