// Integration: a GET /v1/stream connection lasts only as long as its auth would still succeed
// (issue 16, defect 2). Against the real callsignd with npm `ws`: a stream whose token expires is
// closed 1008 at the token's exp + auth.leeway_seconds and gets no code for a later step, while
// another stream of the same user keeps going; a user whose phone support an admin turns off
// mid-stream is told so and closed 1008 at the next step boundary, with no code for a step after it.
// Each server is stopped with SIGTERM and must exit 0 (so the sanitizers' leak check can report).
// Usage: node stream_expiry_test.js --callsignd PATH --callsign PATH
"use strict";

const { check, Server, Client, openAuthed } = require("./stream_support");

const PERIOD = 2;  // seconds per phone-token step
const LEEWAY = 1;  // auth.leeway_seconds
const TTL = 4;     // the short-lived customer token (the CLI mints exp = now + ttl)
// How late a close or a boundary's effect may be seen: the deadline sweep runs every 100 ms,
// and a loaded ASan build under ctest -j2 can be a second behind.
const SLACK_MS = 2500;

const CONFIG = `
[phone_token]
period = ${PERIOD}

[auth]
leeway_seconds = ${LEEWAY}
`;

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

const cases = [];
const test = (name, fn) => cases.push({ name, fn });

test("a stream is closed 1008 at its token's exp + leeway; no code for a later step; other streams go on",
     async (S) => {
  const long = await openAuthed(S, "u-alice");  // the default one-hour token
  const short = S.token("customer", "u-alice", TTL);
  const validUntilMs = (jwtClaims(short).exp + LEEWAY) * 1000;
  const c = tracked(S);
  await c.opened;
  c.auth(short);
  const first = await c.next("token", 5000).catch((e) => {
    throw new Error(`auth with the ${TTL}-second token did not succeed (the CLI may have been too slow): ${e.message}`);
  });
  check(first.step * PERIOD * 1000 < validUntilMs, "first token " + JSON.stringify(first));
  const tooLate = (t) => t.step * PERIOD * 1000 >= validUntilMs;
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
  // The same user's stream with a valid token still gets the boundary codes after that moment.
  for (;;) {
    const t = await long.c.next("token", (PERIOD + 3) * 1000);
    if (t.step * PERIOD * 1000 >= validUntilMs) break;
  }
  long.c.close();
});

test("phone support turned off mid-stream: error, close 1008 by the next boundary, no later code", async (S) => {
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
});

async function main() {
  let passed = 0;
  let failed = 0;
  const server = new Server(CONFIG);
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
  if (!exit || exit.code !== 0) {
    failed += 1;
    console.log(`FAIL callsignd exit after SIGTERM: ${JSON.stringify(exit)} ${server.crashReport()}`);
  } else {
    passed += 1;
    console.log("PASS callsignd exits 0 after SIGTERM");
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.log("FAIL setup: " + (e.stack || e));
  process.exit(1);
});
