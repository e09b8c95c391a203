// Integration: a GET /v1/stream connection lasts only as long as its auth would still succeed
// (issue 16, defect 2). Against the real callsignd with npm `ws`: a stream whose token expires
// mid-step is closed 1008 at the token's exp + auth.leeway_seconds (not at the next boundary) and
// gets no code for a later step, while another stream of the same user keeps going; a user whose
// phone support an admin turns off mid-stream is told so and closed 1008 at the next step
// boundary, with no code for a step after it.
// Each server is stopped with SIGTERM and must exit 0 (so the sanitizers' leak check can report).
// Usage: node stream_expiry_test.js --callsignd PATH --callsign PATH
"use strict";

const { check, Server, Client, openAuthed } = require("./stream_support");

const LEEWAY = 1;  // auth.leeway_seconds
// How late a close or a boundary's effect may be seen: the deadline sweep runs every 100 ms,
// and a loaded ASan build under ctest -j2 can be a second behind.
const SLACK_MS = 2500;

// The expiry case: 20-second steps, and a token whose exp + leeway falls mid-step, so that a
// close left to the next boundary would come far too late (the sweep must do it).
const EXPIRY_PERIOD = 20;
const EXPIRY_CONFIG = `
[phone_token]
period = ${EXPIRY_PERIOD}

[auth]
leeway_seconds = ${LEEWAY}
`;
// The access case: 2-second steps.
const PERIOD = 2;
const ACCESS_CONFIG = `
[phone_token]
period = ${PERIOD}

[auth]
leeway_seconds = ${LEEWAY}
`;

const mod = (a, n) => ((a % n) + n) % n;

function jwtClaims(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
}

// Every token frame a client was sent, in order.
const tokensOf = (c) => c.seen.map((raw) => JSON.parse(raw)).filter((m) => m.type === "token");
const errorsOf = (c) => c.seen.map((raw) => JSON.parse(raw)).filter((m) => m.type === "error");

// Waits for the close; if none comes, the failure names the codes that arrived meanwhile.
async function closedBy(c, deadlineMs, tooLate) {
  try {
    return await c.closedWithin(Math.max(deadlineMs - Date.now(), 0));
  } catch (e) {
    const late = tokensOf(c).filter(tooLate).map((t) => t.step);
    throw new Error(`${e.message}; codes for steps ${JSON.stringify(late)} arrived after the stream should have ended`);
  }
}

// A client that notes when its close arrived.
function tracked(server) {
  const c = new Client(server);
  c.closedAt = null;
  c.ws.on("close", () => { c.closedAt = Date.now(); });
  return c;
}

const expiryCases = [];
const accessCases = [];

expiryCases.push({ name: "a stream is closed 1008 at its token's exp + leeway; no code for a later step; other streams go on",
                   fn: async (S) => {
  const long = await openAuthed(S, "u-alice");  // the default one-hour token
  // A ttl that puts exp + leeway mid-step, at least 5 s from now (the auth must come first).
  const nowS = Math.floor(Date.now() / 1000);
  let target = nowS + 5 + LEEWAY;
  while (mod(target, EXPIRY_PERIOD) !== EXPIRY_PERIOD / 2) target += 1;
  const short = S.token("customer", "u-alice", target - LEEWAY - nowS);
  const validUntil = jwtClaims(short).exp + LEEWAY;
  const validUntilMs = validUntil * 1000;
  const toBoundary = EXPIRY_PERIOD - mod(validUntil, EXPIRY_PERIOD);
  check(toBoundary * 1000 > SLACK_MS, `exp + leeway ${validUntil} is ${toBoundary} s before a boundary (the CLI was slow)`);
  const c = tracked(S);
  await c.opened;
  c.auth(short);
  const first = await c.next("token", 5000).catch((e) => {
    throw new Error(`auth with the short-lived token did not succeed: ${e.message}`);
  });
  check(first.step * EXPIRY_PERIOD * 1000 < validUntilMs, "first token " + JSON.stringify(first));
  const tooLate = (t) => t.step * EXPIRY_PERIOD * 1000 >= validUntilMs;
  const closed = await closedBy(c, validUntilMs + SLACK_MS, tooLate);
  check(closed.code === 1008, "close code " + closed.code);
  // Not before exp + leeway: the leeway is honoured (client and server read the same clock).
  check(c.closedAt >= validUntilMs - 50, `closed ${validUntilMs - c.closedAt} ms before exp + leeway`);
  const errors = errorsOf(c);
  check(errors.length === 1 && errors[0].error === "token expired", "error messages " + JSON.stringify(errors));
  // No code for a step that starts at or after exp + leeway (the server's own boundary time, so
  // this holds however late the close was seen).
  const late = tokensOf(c).filter(tooLate);
  check(late.length === 0, "codes after exp + leeway: " + JSON.stringify(late));
  // The same user's stream with a valid token still gets the next boundary's code.
  for (;;) {
    const t = await long.c.next("token", (toBoundary + 3) * 1000);
    if (tooLate(t)) break;
  }
  long.c.close();
} });

accessCases.push({ name: "phone support turned off mid-stream: error, close 1008 by the next boundary, no later code",
                   fn: async (S) => {
  const { c } = await openAuthed(S, "u-bob");
  await c.next("token", (PERIOD + 3) * 1000);  // one boundary passed: the stream is live
  const admin = S.token("admin", "ops-1");
  const res = await S.request("PUT", "/v1/users/u-bob", { email: "u-bob@example.com", phone_support: false }, admin);
  check(res.status === 200, `PUT: ${res.status} ${JSON.stringify(res.body)}`);
  // The step in progress once the change is durable. The next boundary's table may have been
  // built before the change (up to 500 ms ahead of it); the boundary after that must see it.
  const changedStep = Math.floor(Date.now() / 1000 / PERIOD);
  const lastAllowed = changedStep + 1;
  const closeBy = (lastAllowed + 1) * PERIOD * 1000 + SLACK_MS;
  const closed = await closedBy(c, closeBy, (t) => t.step > lastAllowed);
  check(closed.code === 1008, "close code " + closed.code);
  const errors = errorsOf(c);
  check(errors.length === 1 && errors[0].error === "phone support is not enabled for your account",
        "error messages " + JSON.stringify(errors));
  const late = tokensOf(c).filter((t) => t.step > lastAllowed);
  check(late.length === 0, `codes for steps after ${lastAllowed}: ` + JSON.stringify(late));
  // And a new stream is refused at auth, as before.
  const token = S.token("customer", "u-bob");
  const again = new Client(S);
  await again.opened;
  again.auth(token);
  const refused = await again.closedWithin(5000);
  check(refused.code === 1008, "re-auth close code " + refused.code);
} });

// Each group on its own server; each server is stopped with SIGTERM and must exit 0.
async function main() {
  let passed = 0;
  let failed = 0;
  for (const [config, cases] of [[EXPIRY_CONFIG, expiryCases], [ACCESS_CONFIG, accessCases]]) {
    const server = new Server(config);
    let exit = null;
    try {
      await server.start();
      for (const user of ["u-alice", "u-bob"]) await server.putUser(user, user + "@example.com");
      for (const { name, fn } of cases) {
        const started = Date.now();
        try {
          await fn(server);
          passed += 1;
          console.log(`PASS ${name} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
        } catch (e) {
          failed += 1;
          console.log(`FAIL ${name}: ${e.message}`);
          const report = server.crashReport();
          if (report) console.log("     callsignd: " + report);
        }
      }
    } finally {
      exit = await server.stop();  // SIGTERM
      server.cleanup();
    }
    // The sanitizers report leaks and errors only through a clean exit.
    const report = server.crashReport();
    if (!exit || exit.code !== 0 || report) {
      failed += 1;
      console.log(`FAIL callsignd exits 0 after SIGTERM: ${JSON.stringify(exit)} ${report}`);
    } else {
      passed += 1;
      console.log("PASS callsignd exits 0 after SIGTERM");
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.log("FAIL setup: " + (e.stack || e));
  process.exit(1);
});
