// Integration: who may open GET /v1/stream, and the limits on a stream, against the real
// callsignd with npm `ws` as the client: wrong, expired and non-customer tokens, the auth
// timeout, Origin refusal, the per-user cap, a binary auth frame, the frame size cap and the
// 426 for a plain GET.
// Usage: node stream_auth_limits_test.js --callsignd PATH --callsign PATH
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const path = require("path");
const { CONFIG, USERS, sleep, check, Client, openAuthed, runSuite } = require("./stream_support");

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
const test = (name, fn) => cases.push({ name, fn });

test("wrong, expired and non-customer tokens get an error and close 1008", async (S) => {
  await expectRefusal(S, JSON.stringify({ type: "auth", token: "not-a-jwt" }), /^invalid or expired token$/);
  const now = Math.floor(Date.now() / 1000);
  const expired = craftedToken(S, { iss: "callsign", aud: "callsign", sub: "u-alice", role: "customer",
                                    iat: now - 7200, exp: now - 3600 });
  await expectRefusal(S, JSON.stringify({ type: "auth", token: expired }), /^invalid or expired token$/);
  await expectRefusal(S, JSON.stringify({ type: "auth", token: S.token("agent", "agent-1") }),
                      /^this operation is not available to the agent role$/);
  await expectRefusal(S, JSON.stringify({ type: "auth", token: S.token("customer", "u-nobody") }), /not registered/);
  await expectRefusal(S, "hello", /first message/);
  // The token is never logged.
  const bad = S.token("agent", "agent-1");
  check(!S.stdout.includes(bad) && !S.stdout.includes(expired), "a token appears in the server log");
});

test("no auth message within auth_timeout_ms: error, then close 1008", async (S) => {
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

test("a foreign Origin is refused with 403 before the upgrade; a listed one is allowed", async (S) => {
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

test("per-user cap: the extra stream gets an error and close 1013", async (S) => {
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
  // The server notices the closes a moment later: until then a new stream is refused as the
  // extra one was; once it has, one is admitted.
  const deadline = Date.now() + 15000;
  for (;;) {
    const c = new Client(S);
    await c.opened;
    c.auth(S.token("customer", "u-dave"));
    const reply = await c.next(undefined, 5000);
    c.close();
    if (reply.type === "token") break;
    check(reply.type === "error" && /too many/.test(reply.error), "after the closes: " + JSON.stringify(reply));
    check(Date.now() < deadline, "a stream was still refused 15 s after the user's streams closed");
    await sleep(50);
  }
});

test("an auth message sent as a binary frame gets an error and close 1003, even with a good token", async (S) => {
  const c = new Client(S);
  await c.opened;
  c.ws.send(Buffer.from(JSON.stringify({ type: "auth", token: S.token("customer", "u-alice") })), { binary: true });
  const err = await c.next("error", 5000);
  check(err.error === "the auth message must be a text frame", JSON.stringify(err));
  const closed = await c.closedWithin(5000);
  check(closed.code === 1003, `close code ${closed.code}, want 1003`);
});

test("a client message over max_message_bytes closes with 1009", async (S) => {
  const c = new Client(S);
  await c.opened;
  c.ws.send("x".repeat(5000));
  const closed = await c.closedWithin(5000);
  check(closed.code === 1009, "close code " + closed.code);
});

test("a plain GET /v1/stream is 426 Upgrade Required", async (S) => {
  const res = await S.request("GET", "/v1/stream");
  check(res.status === 426, "status " + res.status);
  check(res.headers.get("content-type").startsWith("application/problem+json"), "content type");
});

runSuite([{ config: CONFIG, users: USERS, cases }]);
