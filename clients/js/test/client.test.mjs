// Unit tests of the browser client with node's test runner, against fakes of the browser parts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createFeedbackClient, Feedback } from "../dist/plaudit-feedback.js";

const LINKS = { trace_id: "4bf92f3577b34da6a3ce929d0e0e4736", span_id: "00f067aa0ba902b7", capability: "chat", step: null };

function memoryStorage() {
  const items = new Map();
  return {
    getItem: (k) => items.get(k) ?? null,
    setItem: (k, v) => items.set(k, String(v)),
    removeItem: (k) => items.delete(k),
    key: (i) => [...items.keys()][i] ?? null,
    get length() { return items.size; },
    items,
  };
}

/** Every event stored for `url`, whichever page's key holds it. */
function stored(storage, url = "http://plaudit.test") {
  return [...storage.items].filter(([k]) => k.startsWith("plaudit:queue:" + url))
    .flatMap(([, v]) => JSON.parse(v).q ?? JSON.parse(v)).map((entry) => entry.e);
}

/** A fake server: answers from `script` in turn (then 200s), recording every request. */
function fakeServer(script = []) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init, body: JSON.parse(init.body) });
    const next = script.shift() ?? 200;
    if (next === "network") throw new TypeError("Failed to fetch");
    const [status, headers] = Array.isArray(next) ? next : [next, {}];
    const items = JSON.parse(init.body).feedback;
    const body = status === 200
      ? { results: items.map((e) => ({ id: e.id, status: e.name === "bad" ? "rejected" : "created", error: { detail: "no" } })) }
      : { detail: `refused ${status}` };
    return new Response(JSON.stringify(body), { status, headers });
  };
  return { fetch, calls };
}

function client(server, extra = {}, config = {}) {
  const errors = [];
  const win = new EventTarget();
  const doc = Object.assign(new EventTarget(), { visibilityState: "visible" });
  const beacons = [];
  const plaudit = createFeedbackClient(
    { url: "http://plaudit.test/", token: "pk_page", ...config },
    { onError: (e) => errors.push(e), fetch: server.fetch, storage: memoryStorage(), window: win, document: doc,
      sendBeacon: (url, body) => (beacons.push({ url, body }), true), online: () => true, ...extra },
  );
  return { plaudit, errors, win, doc, beacons };
}

test("builders make one kind each, leaving unset options out", () => {
  assert.deepEqual(Feedback.thumbUp({ name: "helpful", comment: "yes" }), { kind: "thumb", name: "helpful", comment: "yes", value: 1 });
  assert.equal(Feedback.thumbDown({ name: "h" }).value, -1);
  assert.deepEqual(Feedback.signal({ name: "copy", comment: undefined }), { kind: "signal", name: "copy" });
  for (const [kind, value] of [["number", 4], ["bool", true], ["text", "t"], ["enum", "wrong"], ["correction", "c"], ["object", { a: 1 }]]) {
    assert.deepEqual(Feedback[kind]({ name: "n", value }), { kind, name: "n", value });
  }
});

test("sends the event with its links and the client token, keepalive", async () => {
  const server = fakeServer();
  const { plaudit, errors } = client(server);
  const id = plaudit.sendFeedback(LINKS, Feedback.number({ name: "stars", value: 4, user_id: "u1" }));
  assert.equal(await plaudit.flush(), true);
  assert.equal(server.calls.length, 1);
  const { url, init, body } = server.calls[0];
  assert.equal(url, "http://plaudit.test/v1/feedback");
  assert.equal(init.headers.authorization, "Bearer pk_page");
  assert.equal(init.keepalive, true);
  const [event] = body.feedback;
  assert.equal(event.id, id);
  assert.match(id, /^[A-Za-z0-9_-]{1,64}$/);
  assert.equal(event.span_id, LINKS.span_id);
  assert.equal(event.trace_id, LINKS.trace_id);
  assert.equal(event.capability, "chat");
  assert.ok(!("step" in event), "null links are left out");
  assert.ok(event.timestamp);
  assert.deepEqual(errors, []);
});

test("one id per (span, name, user): a changed vote revises, others stay separate", () => {
  const { plaudit } = client(fakeServer());
  const up = plaudit.sendFeedback(LINKS, Feedback.thumbUp({ name: "helpful", user_id: "u1" }));
  const down = plaudit.sendFeedback(LINKS, Feedback.thumbDown({ name: "helpful", user_id: "u1" }));
  const other = plaudit.sendFeedback(LINKS, Feedback.thumbDown({ name: "helpful", user_id: "u2" }));
  const stars = plaudit.sendFeedback(LINKS, Feedback.number({ name: "stars", value: 2, user_id: "u1" }));
  const own = plaudit.sendFeedback(LINKS, Feedback.thumbUp({ name: "helpful", user_id: "u1", id: "mine-1" }));
  assert.equal(up, down);
  assert.equal(new Set([up, other, stars, own]).size, 4);
  assert.equal(own, "mine-1");
  plaudit.close();
});

test("a per-span token in the links replaces the client token", async () => {
  const server = fakeServer();
  const { plaudit } = client(server);
  plaudit.sendFeedback({ ...LINKS, token: "pft_span" }, Feedback.thumbUp({ name: "h" }));
  plaudit.sendFeedback({ span_id: "1111111111111111", feedback_token: "pft_other" }, Feedback.thumbUp({ name: "h" }));
  await plaudit.flush();
  await plaudit.flush();
  assert.deepEqual(server.calls.map((c) => c.init.headers.authorization), ["Bearer pft_span", "Bearer pft_other"]);
});

test("retries after errors and 429 (honouring Retry-After), once delivered it is gone", async () => {
  const server = fakeServer(["network", [429, { "retry-after": "0.01" }], 503]);
  const { plaudit, errors } = client(server, {}, { userId: "u9" });
  plaudit.sendFeedback(LINKS, Feedback.text({ name: "comment", value: "slow" }));
  const deadline = Date.now() + 5000;
  while (plaudit.pending() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(plaudit.pending(), 0);
  assert.equal(server.calls.length, 4);
  const ids = new Set(server.calls.map((c) => c.body.feedback[0].id));
  assert.equal(ids.size, 1, "every retry carries the same id");
  assert.equal(server.calls[0].body.feedback[0].user_id, "u9");
  assert.deepEqual(errors, []);
});

test("what finally fails goes to onError: refusals, rejected items, too many attempts", async () => {
  const refused = fakeServer([403]);
  const a = client(refused);
  a.plaudit.sendFeedback(LINKS, Feedback.thumbUp({ name: "h" }));
  await a.plaudit.flush();
  assert.equal(a.errors.length, 1);
  assert.equal(a.errors[0].status, 403);
  assert.equal(a.errors[0].message, "refused 403");
  assert.equal(a.plaudit.pending(), 0);

  const b = client(fakeServer());
  b.plaudit.sendFeedback(LINKS, Feedback.thumbUp({ name: "bad" }));
  b.plaudit.sendFeedback(LINKS, Feedback.thumbUp({ name: "good" }));
  await b.plaudit.flush();
  assert.deepEqual(b.errors.map((e) => e.feedback[0].name), ["bad"]);

  const c = client(fakeServer([500, 500]), {}, { maxAttempts: 2 });
  c.plaudit.sendFeedback(LINKS, Feedback.thumbUp({ name: "h" }));
  await c.plaudit.flush();
  await c.plaudit.flush();
  assert.equal(c.errors.length, 1);
  assert.match(c.errors[0].message, /after 2 attempts/);
  assert.equal(c.plaudit.pending(), 0);
});

test("offline: kept in storage, sent when back online, and by the next page", async () => {
  let isOnline = false;
  const storage = memoryStorage();
  const server = fakeServer();
  const first = client(server, { storage, online: () => isOnline });
  first.plaudit.sendFeedback(LINKS, Feedback.thumbUp({ name: "h" }));
  first.plaudit.sendFeedback(LINKS, Feedback.signal({ name: "copy" }));
  await first.plaudit.flush();
  assert.equal(server.calls.length, 0);
  assert.equal(stored(storage).length, 2);
  first.win.dispatchEvent(new Event("pagehide"));
  first.plaudit.close();

  // A later page finds them; coming back online sends each once.
  const second = client(server, { storage, online: () => isOnline });
  assert.equal(second.plaudit.pending(), 2);
  isOnline = true;
  second.win.dispatchEvent(new Event("online"));
  await second.plaudit.flush();
  assert.equal(server.calls.length, 1);
  assert.equal(server.calls[0].body.feedback.length, 2);
  assert.deepEqual(stored(storage), []);
});

test("tabs: each stores its own queue, and the next page sends what every closed tab left", async () => {
  const storage = memoryStorage();
  const server = fakeServer();
  const tabs = [client(server, { storage, online: () => false }), client(server, { storage, online: () => false })];
  tabs.forEach((tab, i) => tab.plaudit.sendFeedback(LINKS, Feedback.number({ name: `tab${i}`, value: i })));
  assert.equal(stored(storage).length, 2);
  for (const tab of tabs) {
    tab.win.dispatchEvent(new Event("pagehide"));
    tab.plaudit.close();
  }
  const next = client(server, { storage });
  assert.equal(next.plaudit.pending(), 2);
  assert.equal(await next.plaudit.flush(), true);
  assert.deepEqual(server.calls.flatMap((c) => c.body.feedback.map((e) => e.name)).sort(), ["tab0", "tab1"]);
  assert.deepEqual(stored(storage), []);
});

test("tabs: a live page's queue stays its own; hidden, the next page may take it", () => {
  const storage = memoryStorage();
  const live = client(fakeServer(), { storage, online: () => false });
  live.plaudit.sendFeedback(LINKS, Feedback.thumbUp({ name: "h" }));
  assert.equal(client(fakeServer(), { storage, online: () => false }).plaudit.pending(), 0);
  live.doc.visibilityState = "hidden";
  live.doc.dispatchEvent(new Event("visibilitychange"));
  assert.equal(client(fakeServer(), { storage, online: () => false }).plaudit.pending(), 1);
});

test("tabs: one event left by two pages is adopted once, in its newest version", () => {
  const storage = memoryStorage();
  const at = (timestamp) => ({ id: "b1", name: "h", kind: "thumb", timestamp });
  storage.setItem("plaudit:queue:http://plaudit.test#a", JSON.stringify({ q: [{ e: { ...at("2026-01-01T00:00:02Z"), value: -1 }, n: 0 }], at: 1, c: true }));
  storage.setItem("plaudit:queue:http://plaudit.test#b", JSON.stringify({ q: [{ e: { ...at("2026-01-01T00:00:01Z"), value: 1 }, n: 0 }], at: 1, c: true }));
  // the key every page shared before per-page keys: adopted as well
  storage.setItem("plaudit:queue:http://plaudit.test", JSON.stringify([{ e: { ...at("2026-01-01T00:00:00Z"), value: 1 }, n: 0 }]));
  storage.setItem("plaudit:queue:http://other.test#c", JSON.stringify({ q: [{ e: at("x"), n: 0 }], at: 1, c: true }));
  const next = client(fakeServer(), { storage, online: () => false });
  assert.equal(next.plaudit.pending(), 1);
  assert.deepEqual(stored(storage).map((e) => e.value), [-1]);
  assert.equal(stored(storage, "http://other.test").length, 1, "another server's queue is left alone");
});

test("page hide beacons what waits: text bodies under 64 KiB with the token inside", async () => {
  const { plaudit, doc, win, beacons } = client(fakeServer(), { online: () => false });
  const long = "x".repeat(20000);
  for (let i = 0; i < 5; i++) plaudit.sendFeedback(LINKS, Feedback.text({ name: `c${i}`, value: long }));
  plaudit.sendFeedback({ ...LINKS, token: "pft_s" }, Feedback.signal({ name: "copy" }));
  doc.visibilityState = "hidden";
  doc.dispatchEvent(new Event("visibilitychange"));
  assert.ok(beacons.length >= 3);
  const sizes = beacons.map((b) => new TextEncoder().encode(b.body).length);
  assert.ok(sizes.every((s) => s < 65536), `sizes ${sizes}`);
  const bodies = beacons.map((b) => JSON.parse(b.body));
  assert.equal(bodies.flatMap((b) => b.feedback).length, 6);
  assert.deepEqual(new Set(bodies.map((b) => b.token)), new Set(["pk_page", "pft_s"]));
  assert.equal(beacons[0].url, "http://plaudit.test/v1/feedback");
  win.dispatchEvent(new Event("pagehide"));
  assert.ok(beacons.length >= 6, "still queued, so beaconed again on the next hide");
  plaudit.close();
});
