// What a browser test needs around chromium: its arguments, the real callsignd (dev mode, port 0,
// a temp dir; stopped with SIGTERM, or restarted on its port) and Debian's chromium through npm
// playwright-core.
"use strict";

const { spawn, execFileSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

function arg(name) {
  const i = process.argv.indexOf(name);
  if (i < 0 || i + 1 >= process.argv.length) throw new Error("missing " + name);
  return process.argv[i + 1];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function check(cond, message) {
  if (!cond) throw new Error(message);
}

function loadChromium() {
  try {
    return require("playwright-core").chromium;
  } catch (e) {
    console.error("FAIL: npm package 'playwright-core' is missing; run (cd tests/browser && npm ci) or ./tools/test");
    process.exit(1);
  }
}

// Headless chromium with a fresh profile under `profileDir` (playwright refuses --user-data-dir;
// TMPDIR points its temporary profile at a directory the test owns and removes).
async function launchChromium(profileDir) {
  process.env.TMPDIR = profileDir;
  return loadChromium().launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    timeout: 60000,
  });
}

class Server {
  // options: {callsignd, callsign, webRoot, period, config (more TOML, optional)}
  constructor(options) {
    this.callsign = options.callsign;
    this.period = options.period;
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), "callsign-browser-"));
    this.dataDir = path.join(this.tmp, "data");
    this.portFile = path.join(this.tmp, "port");
    this.configPath = path.join(this.tmp, "callsign.toml");
    fs.writeFileSync(this.configPath, `
[server]
dev_mode = true
web_root = ${JSON.stringify(options.webRoot)}

[phone_token]
period = ${options.period}
${options.config || ""}`);
    this.callsignd = options.callsignd;
    this.spawn("127.0.0.1:0");
  }

  spawn(listen) {
    this.stderr = "";
    this.proc = spawn(this.callsignd, ["--data-dir", this.dataDir, "--listen", listen, "--port-file",
                                       this.portFile, "--config", this.configPath], { stdio: ["ignore", "ignore", "pipe"] });
    this.proc.stderr.on("data", (d) => { this.stderr += d; });
    // "close": stderr has been read to its end, a sanitizer report included.
    this.exited = new Promise((resolve) => this.proc.on("close", (code, signal) => resolve({ code, signal })));
  }

  // SIGTERM (callsignd closes its streams with 1012), require exit 0, then a new callsignd on the
  // same port and data directory, so that the pages' reconnects reach it at the same address.
  async restart() {
    const done = await this.stop();
    check(done && done.code === 0, "callsignd exit before the restart: " + JSON.stringify(done) + " " + this.stderr.slice(-2000));
    const port = new URL(this.base).port;
    fs.rmSync(this.portFile, { force: true });
    this.spawn("127.0.0.1:" + port);
    return this.start();
  }

  async start() {
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
      const text = fs.existsSync(this.portFile) ? fs.readFileSync(this.portFile, "utf8").trim() : "";
      if (text) {
        this.base = `http://127.0.0.1:${Number(text)}`;
        return this;
      }
      if (this.proc.exitCode !== null) throw new Error("callsignd exited early: " + this.stderr);
      await sleep(50);
    }
    throw new Error("callsignd did not write its port file");
  }

  // The callsign CLI's trimmed output; `input` goes to its standard input.
  cli(args, input) {
    return execFileSync(this.callsign, args, { encoding: "utf8", input }).trim();
  }

  token(role, sub, ttl) {
    const args = ["token", "--data-dir", this.dataDir, "--role", role, "--sub", sub];
    if (ttl) args.push("--ttl", String(ttl));
    return this.cli(args);
  }

  phoneToken(user, step) {
    return this.cli(["phone-token", "--data-dir", this.dataDir, "--user", user, "--period", String(this.period),
                     "--time", String(step * this.period)]);
  }

  async request(method, urlPath, body, token) {
    const headers = {};
    if (token) headers.Authorization = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(this.base + urlPath,
                            { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch (e) {
      parsed = text;
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  // SIGTERM, then the exit status (null when it had to be killed after 30 s).
  async stop() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGTERM");
    const done = await Promise.race([this.exited, sleep(30000).then(() => null)]);
    if (done === null) this.proc.kill("SIGKILL");
    return done;
  }

  cleanup() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

// Runs one browser test: parses --callsignd, --callsign, --web-root and --artifacts, starts the
// real callsignd (`options`: period, config) and chromium, and awaits
// body({S, browser, artifacts, watch}); watch(page, name) records the page's CSP violations and
// script errors. Then it requires none were recorded, closes chromium, stops callsignd with
// SIGTERM and requires exit status 0. It always removes its temporary directories, and exits the
// process: 0, or 1 after printing FAIL and the error.
function browserTest(options, body) {
  const run = async () => {
    const artifacts = path.resolve(arg("--artifacts"));
    fs.mkdirSync(artifacts, { recursive: true });
    const S = await new Server({ callsignd: arg("--callsignd"), callsign: arg("--callsign"),
                                 webRoot: path.resolve(arg("--web-root")), ...options }).start();
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), "callsign-chromium-"));
    let browser;
    try {
      browser = await launchChromium(profile);  // its temporary profile goes where this cleans up
      const problems = [];
      const watch = (page, name) => {
        page.on("console", (m) => {
          if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(name + ": " + m.text());
        });
        page.on("pageerror", (e) => problems.push(name + " script error: " + e.message));
      };
      await body({ S, browser, artifacts, watch });
      check(problems.length === 0, "CSP violations or script errors: " + problems.join(" | "));
      console.log("PASS no CSP violations or script errors");
      await browser.close();
      browser = null;
      const done = await S.stop();
      check(done && done.code === 0, "callsignd exit after SIGTERM: " + JSON.stringify(done) + " " + S.stderr.slice(-2000));
      console.log("PASS callsignd exits 0 after SIGTERM; screenshots in " + artifacts);
    } finally {
      if (browser) await browser.close().catch(() => {});
      S.cleanup();
      fs.rmSync(profile, { recursive: true, force: true });
    }
  };
  run().then(() => process.exit(0), (err) => {
    console.error("FAIL " + (err && err.stack ? err.stack : err));
    process.exit(1);
  });
}

// A browser context whose pages start signed in with `token` (stored as the embedding
// application would) and count the WebSockets they open (window.streams). `fakeClock`: the pages'
// timers run on playwright's clock, which flows until a test jumps it.
async function signedInContext(browser, token, { fakeClock = false, ...contextOptions } = {}) {
  const ctx = await browser.newContext(contextOptions);
  if (fakeClock) await ctx.clock.install();
  await ctx.addInitScript((t) => {
    sessionStorage.setItem("callsign.token", t);
    const Native = window.WebSocket;
    window.streams = 0;
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        window.streams += 1;
      }
    };
  }, token);
  return ctx;
}

module.exports = { arg, sleep, check, launchChromium, Server, browserTest, signedInContext };
