// Integration: what GET /v1/stream delivers, against the real callsignd with npm `ws` as the
// client: tokens equal to `callsign phone-token`, across a step boundary (2-second period) and to
// every dashboard of the user, the `verified` notice after an agent's verify, and the
// `authenticator` notices on enrollment start, confirm and removal.
// Usage: node stream_tokens_notices_test.js --callsignd PATH --callsign PATH
"use strict";

const crypto = require("crypto");
const { PERIOD, CONFIG, USERS, sleep, check, openAuthed, runSuite } = require("./stream_support");

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

// A fence for "nothing else arrived": one verify of `user` by agent-fence, and its `verified`
// notice on each of `clients`. A stream delivers its messages in order, and the fence starts
// after the requests under test were answered, so a notice those requests caused on one of
// these streams has arrived before the fence's; after it, `seen` holds everything they sent.
async function fence(S, user, clients) {
  const deadline = Date.now() + 4 * PERIOD * 1000;
  for (;;) {
    const current = await S.request("GET", "/v1/me/phone-token", undefined, S.token("customer", user));
    check(current.status === 200, "phone-token " + current.status);
    const res = await S.request("POST", "/v1/verify", { user, code: current.body.token }, S.token("agent", "agent-fence"));
    check(res.status === 200, `fence verify: ${res.status} ${JSON.stringify(res.body)}`);
    if (res.body.valid === true) break;
    // This step's code was used already (an earlier fence): the next step's will do.
    check(Date.now() < deadline, "the fence's verify never succeeded");
    await sleep(Math.max(0, current.body.expires_at * 1000 - Date.now()) + 50);
  }
  for (const c of clients) {
    const notice = await c.next("verified", 5000);
    check(notice.agent === "agent-fence", "a verified notice before the fence's: " + JSON.stringify(notice));
  }
}

const kinds = (client, type) => client.seen.map((t) => JSON.parse(t)).filter((m) => m.type === type);

const cases = [];
const test = (name, fn) => cases.push({ name, fn });

test("auth success: the first message is the user's current token", async (S) => {
  const { c, first } = await openAuthed(S, "u-alice");
  check(first.type === "token", JSON.stringify(first));
  check(first.period === PERIOD, "period " + first.period);
  check(first.expires_at === (first.step + 1) * PERIOD, "expires_at " + first.expires_at);
  check(first.token === S.phoneToken("u-alice", first.step),
        `stream token for step ${first.step} differs from callsign phone-token`);
  c.close();
});

// Authenticated AUTH_AT s into a step, a stream whose tokens came from a timer started at auth
// (not at the boundary) would get the next one AUTH_AT s or more after the step starts; a token
// pushed at the boundary arrives within LATE_BOUND, which leaves ASan builds room.
const AUTH_AT = 1.3;
const LATE_BOUND = 1.2;

test("tokens across a step boundary equal callsign phone-token", async (S) => {
  S.token("customer", "u-alice");  // minted before the wait: the CLI may be slow to start
  await sleep((((AUTH_AT - (Date.now() / 1000) % PERIOD) + PERIOD) % PERIOD) * 1000);
  const authStep = Math.floor(Date.now() / 1000 / PERIOD);
  const { c, first } = await openAuthed(S, "u-alice");
  check(first.step === authStep, `auth took over ${(PERIOD - AUTH_AT).toFixed(1)} s: step ${first.step}, want ${authStep}`);
  const second = await c.next("token", (PERIOD + 2) * 1000);
  check(second.step === first.step + 1, `steps ${first.step} then ${second.step}`);
  check(second.token === S.phoneToken("u-alice", second.step), "boundary token differs from callsign phone-token");
  // Pushed at the boundary, not polled or timed from the auth: it arrives soon after the step starts.
  const late = Date.now() / 1000 - second.step * PERIOD;
  check(late < LATE_BOUND, `boundary token arrived ${late.toFixed(3)} s after the step started`);
  const third = await c.next("token", (PERIOD + 2) * 1000);
  check(third.step === second.step + 1 && third.token === S.phoneToken("u-alice", third.step), "third token");
  c.close();
});

test("every dashboard of the user gets the boundary token", async (S) => {
  const a = await openAuthed(S, "u-bob");
  const b = await openAuthed(S, "u-bob");
  const ta = await a.c.next("token", (PERIOD + 2) * 1000);
  const tb = await b.c.next("token", (PERIOD + 2) * 1000);
  check(ta.step === tb.step && ta.token === tb.token, "dashboards disagree");
  a.c.close();
  b.c.close();
});

test("verified message after an agent's POST /v1/verify", async (S) => {
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
  await fence(S, "u-alice", [other.c]);  // fails if carol's notice reached alice's dashboard first
  c.close();
  other.c.close();
});

test("authenticator notices on enrollment start, confirm and removal, without secrets", async (S) => {
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

  await fence(S, "u-erin", [a.c, b.c]);
  await fence(S, "u-alice", [other.c]);
  for (const d of [a, b]) {
    check(kinds(d.c, "authenticator").length === 3, "authenticator notices " + JSON.stringify(kinds(d.c, "authenticator")));
  }
  check(kinds(other.c, "authenticator").length === 0, "another user's dashboard saw the notice");
  const everything = JSON.stringify([a.c.seen, b.c.seen]);
  check(!everything.includes(secret) && !everything.includes("otpauth"), "a stream message carried the secret");
  a.c.close();
  b.c.close();
  other.c.close();
});

runSuite([{ config: CONFIG, users: USERS, cases }]);
