/**
 * Plaudit browser client: end-user feedback on AI responses, linked to the trace and span that
 * produced them.
 *
 *   const plaudit = createFeedbackClient({ url: "https://plaudit.example", token: "pk_…" });
 *   plaudit.sendFeedback(reply.links, Feedback.thumbUp({ name: "helpful" }));
 *
 * Nothing is lost on the way: every event is kept in localStorage until the server has stored it,
 * sent with `fetch` + `keepalive`, retried with backoff, held while offline, and handed to
 * `sendBeacon` when the page is hidden. Events carry ids made here, so any resend is a duplicate
 * the server stores once, and a changed vote on the same answer is a revision.
 */

export type Kind = "thumb" | "number" | "bool" | "text" | "enum" | "signal" | "correction" | "object";

/** Where feedback points: `span.links()` from the Python SDK, plus an optional per-span token. */
export interface Links {
  trace_id?: string | null;
  span_id?: string | null;
  conversation_id?: string | null;
  capability?: string | null;
  step?: string | null;
  traceparent?: string | null;
  /** A per-span feedback token (`pft_…`); it replaces the client's token for this feedback. */
  token?: string | null;
  /** Same as `token`, under the name the Python example apps return it with. */
  feedback_token?: string | null;
}

/** Fields every builder takes besides the name and value: where the feedback points and who gave it. */
export interface FeedbackOptions {
  name: string;
  comment?: string;
  expected?: unknown;
  scores?: Record<string, number>;
  metadata?: Record<string, unknown>;
  user_id?: string;
  tags?: string[];
  /** Choose the event's identity yourself; by default one id per (span, name, user). */
  id?: string;
  signal_type?: "default" | "feedback" | "edit" | "standard" | "agent";
  implicit?: boolean;
  timestamp?: string;
  conversation_id?: string;
}

/** What an event points at; `sendFeedback` fills these from `links` unless the event has them. */
export interface FeedbackTarget {
  trace_id?: string | null;
  span_id?: string | null;
  capability?: string | null;
  step?: string | null;
  traceparent?: string | null;
}

/** A feedback event as the API takes it. No index signature: a misspelt field is a type error. */
export type FeedbackEvent = FeedbackOptions & FeedbackTarget & { kind: Kind; value?: unknown };

function build(kind: Kind, options: object): FeedbackEvent {
  const event: Record<string, unknown> = { kind };
  for (const [key, value] of Object.entries(options)) if (value !== undefined) event[key] = value;
  return event as unknown as FeedbackEvent;
}

/** Builders, one per kind: `Feedback.thumbUp({ name: "helpful", comment: "spot on" })`. */
export const Feedback = {
  thumb: (o: FeedbackOptions & { value: 1 | -1 | "up" | "down" }) => build("thumb", o),
  thumbUp: (o: FeedbackOptions) => build("thumb", { ...o, value: 1 }),
  thumbDown: (o: FeedbackOptions) => build("thumb", { ...o, value: -1 }),
  number: (o: FeedbackOptions & { value: number }) => build("number", o),
  bool: (o: FeedbackOptions & { value: boolean }) => build("bool", o),
  text: (o: FeedbackOptions & { value: string }) => build("text", o),
  enum: (o: FeedbackOptions & { value: string }) => build("enum", o),
  /** Something happened (copy, regenerate, share): no value. */
  signal: (o: FeedbackOptions) => build("signal", o),
  /** The answer the user wanted instead. */
  correction: (o: FeedbackOptions & { value: unknown }) => build("correction", o),
  object: (o: FeedbackOptions & { value: Record<string, unknown> }) => build("object", o),
};

/** What finally failed: the events, the HTTP status if there was one, and why. */
export class FeedbackError extends Error {
  constructor(
    message: string,
    readonly feedback: FeedbackEvent[],
    readonly status?: number,
  ) {
    super(message);
    this.name = "FeedbackError";
  }
}

export interface ClientConfig {
  /** The Plaudit server, e.g. `https://plaudit.example.com`. */
  url: string;
  /** A browser-safe `pk_` token; not needed with per-span tokens or a `--dev` server. */
  token?: string;
  /** `user_id` for events that name none. */
  userId?: string;
  /** Attempts per event before `onError` (default 8). */
  maxAttempts?: number;
  /** Events kept waiting at most (default 500); the oldest go to `onError` beyond it. */
  maxQueue?: number;
}

type Store = Pick<Storage, "getItem" | "setItem" | "removeItem" | "key" | "length">;

/** Callbacks, and the browser parts the client uses (replaceable for tests and odd hosts). */
export interface ClientOptions {
  onError?: (error: FeedbackError) => void;
  fetch?: typeof fetch;
  storage?: Store | null;
  sendBeacon?: (url: string, body: string) => boolean;
  window?: EventTarget;
  document?: EventTarget & { visibilityState?: string };
  online?: () => boolean;
}

export interface FeedbackClient {
  /** Queue feedback for the target of `links`; answers the event id. Never throws. */
  sendFeedback(links: Links | null | undefined, feedback: FeedbackEvent): string;
  /** Try to deliver everything now; true once nothing is waiting. */
  flush(): Promise<boolean>;
  /** How many events wait for the server. */
  pending(): number;
  /** Stop listening and retrying (what waits stays in storage for the next page). */
  close(): void;
}

interface Entry {
  e: FeedbackEvent;
  t?: string;
  n: number;
}

/** One page's stored queue: `c` once the page may be gone (hidden or closed), `at` last written. */
interface Saved {
  q: Entry[];
  at: number;
  c?: boolean;
}

// A queue neither closed nor written for this long belongs to a page that crashed.
const ABANDONED_MS = 24 * 3600 * 1000;

const LINK_FIELDS = ["trace_id", "span_id", "conversation_id", "capability", "step", "traceparent"];
// Browsers refuse keepalive fetches and beacons past 64 KiB in flight; stay clear of it.
const MAX_BODY_BYTES = 60000;
const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text).length;

/** A 128-bit non-cryptographic digest as hex: stable ids from (target, name, user). */
function digest(text: string): string {
  let out = "";
  for (let lane = 1; lane < 5; lane++) {
    let h = Math.imul(0x9e3779b9, lane);
    for (let i = 0; i < text.length; i++) {
      h = Math.imul(h ^ text.charCodeAt(i), 0x5bd1e995);
      h ^= h >>> 15;
    }
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    out += ((h ^ (h >>> 16)) >>> 0).toString(16).padStart(8, "0");
  }
  return out;
}

function randomId(): string {
  const words = new Uint32Array(4);
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(words);
  else for (let i = 0; i < 4; i++) words[i] = (Math.random() * 2 ** 32) >>> 0;
  return Array.from(words, (w) => w.toString(16).padStart(8, "0")).join("");
}

function browserStorage(): Store | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // storage disabled (privacy mode, sandboxed iframe): keep the queue in memory
  }
}

/** A client that delivers feedback to the Plaudit server at `config.url`. */
export function createFeedbackClient(config: ClientConfig, options: ClientOptions = {}): FeedbackClient {
  const url = config.url.replace(/\/+$/, "");
  const endpoint = url + "/v1/feedback";
  const maxAttempts = config.maxAttempts ?? 8;
  const maxQueue = config.maxQueue ?? 500;
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const storage = options.storage === undefined ? browserStorage() : options.storage;
  const win = options.window ?? (typeof window === "undefined" ? undefined : window);
  const doc = options.document ?? (typeof document === "undefined" ? undefined : document);
  const nav = typeof navigator === "undefined" ? undefined : navigator;
  const beacon = options.sendBeacon ?? (nav?.sendBeacon ? (u: string, b: string) => nav.sendBeacon(u, b) : undefined);
  const online = options.online ?? (() => nav?.onLine !== false);
  // Each page writes only its own key, so two tabs never overwrite each other's queue; a new
  // page adopts the queues that closed pages left (`adopt`). The bare prefix is the key every
  // page shared before, adopted too.
  const prefix = "plaudit:queue:" + url;
  const ownKey = prefix + "#" + randomId();
  let queue: Entry[] = [];
  let running: Promise<void> | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;

  function report(message: string, events: FeedbackEvent[], status?: number): void {
    try {
      options.onError?.(new FeedbackError(message, events, status));
    } catch {
      // the app's callback must not break delivery of the rest
    }
  }

  function read(key: string): Saved {
    try {
      const saved = JSON.parse(storage?.getItem(key) ?? "[]");
      const old = Array.isArray(saved); // the shared key's format: always adopted
      const entries: unknown[] = old ? saved : Array.isArray(saved?.q) ? saved.q : [];
      const q = entries.filter((x): x is Entry => !!x && typeof (x as Entry).e === "object");
      return { q, at: old ? 0 : Number(saved.at) || 0, c: old || saved.c === true };
    } catch {
      return { q: [], at: 0, c: true };
    }
  }

  /** Take over the queues of pages that are gone. Lock-free: two pages adopting the same queue
   * both send it, and the ids make the second copy a duplicate the server stores once. */
  function adopt(): void {
    const found: string[] = [];
    try {
      for (let i = 0; i < (storage?.length ?? 0); i++) {
        const key = storage?.key(i);
        if (key === prefix || key?.startsWith(prefix + "#")) found.push(key);
      }
    } catch {
      return; // storage disabled: nothing was left
    }
    const adopted = found.filter((key) => {
      const saved = read(key);
      if (!saved.c && Date.now() - saved.at < ABANDONED_MS) return false; // a live page's
      for (const entry of saved.q) merge(entry);
      return true;
    });
    trim();
    save();
    try {
      for (const key of adopted) storage?.removeItem(key);
    } catch {
      // left in place: the next page adopts it again, and resends are duplicates
    }
  }

  /** Queue `entry` unless a newer version of the same event already waits. */
  function merge(entry: Entry): void {
    const same = queue.findIndex((q) => q.e.id === entry.e.id);
    if (same < 0) queue.push(entry);
    else if (String(queue[same].e.timestamp) < String(entry.e.timestamp)) queue[same] = entry;
  }

  function save(closing = false): void {
    try {
      if (!queue.length) storage?.removeItem(ownKey);
      else storage?.setItem(ownKey, JSON.stringify({ q: queue, at: Date.now(), c: closing }));
    } catch {
      // storage full or disabled: the queue still lives in memory for this page
    }
  }

  function anonymousUser(): string {
    // Stands in for the user in derived ids so two anonymous browsers never revise each other.
    let id: string | null = null;
    try {
      id = storage?.getItem("plaudit:anon") ?? null;
      if (!id) storage?.setItem("plaudit:anon", (id = randomId()));
    } catch {
      id = null;
    }
    return id ?? (anon ??= randomId());
  }
  let anon: string | undefined;

  function sendFeedback(links: Links | null | undefined, feedback: FeedbackEvent): string {
    const event: FeedbackEvent = { ...feedback };
    const from = (links ?? {}) as Record<string, unknown>;
    const fields = event as unknown as Record<string, unknown>;
    for (const field of LINK_FIELDS) if (from[field] != null && fields[field] == null) fields[field] = from[field];
    if (event.user_id == null && config.userId) event.user_id = config.userId;
    event.timestamp ??= new Date().toISOString();
    if (!event.id) {
      const target = event.span_id ?? event.traceparent ?? event.trace_id ?? event.conversation_id ?? "";
      event.id = "b" + digest([target, event.name, event.user_id ?? anonymousUser()].join("\u0000"));
    }
    const token = links?.token ?? links?.feedback_token ?? config.token;
    enqueue({ e: event, t: token ?? undefined, n: 0 });
    void pump();
    return event.id;
  }

  function enqueue(entry: Entry): void {
    // A newer version of a waiting event replaces it: only the latest vote needs to travel.
    const same = queue.findIndex((q) => q.e.id === entry.e.id);
    if (same >= 0) queue[same] = entry;
    else queue.push(entry);
    trim();
    save();
  }

  function trim(): void {
    if (queue.length > maxQueue) {
      const dropped = queue.splice(0, queue.length - maxQueue);
      report("feedback queue full: oldest events dropped", dropped.map((q) => q.e));
    }
  }

  /** The next batch: leading events sharing one token, within the keepalive size limit. */
  function nextBatch(): Entry[] {
    const batch: Entry[] = [];
    let size = 20;
    for (const entry of queue) {
      if (entry.t !== queue[0].t) continue;
      size += bytes(JSON.stringify(entry.e)) + 1;
      if (batch.length && (size > MAX_BODY_BYTES || batch.length >= 500)) break;
      batch.push(entry);
    }
    return batch;
  }

  function remove(done: Entry[]): void {
    queue = queue.filter((q) => !done.includes(q));
    save();
  }

  function pump(): Promise<void> {
    if (running) return running;
    const run = async () => {
      await 0; // let `running` be set before the loop can end and clear it
      try {
        while (queue.length && online() && timer === undefined) {
          if (!(await deliver(nextBatch()))) break;
        }
      } finally {
        running = null;
      }
    };
    return (running = run());
  }

  /** Send one batch; false when it must wait (retry scheduled, or offline). */
  async function deliver(batch: Entry[]): Promise<boolean> {
    const body = JSON.stringify({ feedback: batch.map((q) => q.e) });
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (batch[0].t) headers.authorization = "Bearer " + batch[0].t;
    let response: Response;
    try {
      response = await doFetch(endpoint, { method: "POST", headers, body, keepalive: bytes(body) < MAX_BODY_BYTES });
    } catch (error) {
      return retry(batch, null, String(error));
    }
    const status = response.status;
    if (status === 408 || status === 429 || status >= 500) {
      return retry(batch, response.headers.get("retry-after"), `HTTP ${status}`);
    }
    const answer = await response.json().catch(() => null);
    if (!response.ok) {
      remove(batch);
      report(answer?.detail ?? `HTTP ${status}`, batch.map((q) => q.e), status);
      return true;
    }
    settle(batch, Array.isArray(answer?.results) ? answer.results : []);
    return true;
  }

  function settle(batch: Entry[], results: { status?: string; error?: { detail?: string } }[]): void {
    remove(batch);
    results.forEach((result, i) => {
      if (result?.status === "rejected" && batch[i]) {
        report(result.error?.detail ?? "rejected", [batch[i].e], 422);
      }
    });
  }

  function retry(batch: Entry[], retryAfter: string | null, why: string): boolean {
    if (!online()) return false; // the `online` event resumes; being offline costs no attempt
    const attempts = Math.max(...batch.map((q) => ++q.n));
    const failed = batch.filter((q) => q.n >= maxAttempts);
    if (failed.length) {
      remove(failed);
      report(`feedback not delivered after ${maxAttempts} attempts: ${why}`, failed.map((q) => q.e));
    } else save();
    const asked = Number(retryAfter) * 1000;
    // Exponential backoff with jitter, so many pages recovering together do not stampede.
    const delay = asked > 0 ? asked : Math.min(30000, 500 * 2 ** (attempts - 1)) * (0.5 + Math.random() / 2);
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void pump();
    }, delay);
    return false;
  }

  /** On page hide, hand whatever still waits to sendBeacon (text/plain: no preflight), and mark
   * the stored queue as one the next page may adopt: a hidden page may be discarded unannounced. */
  function onHide(): void {
    save(true);
    beaconAll();
  }

  function beaconAll(): void {
    if (!beacon || !queue.length) return;
    const groups = new Map<string | undefined, FeedbackEvent[]>();
    for (const q of queue) groups.set(q.t, [...(groups.get(q.t) ?? []), q.e]);
    for (const [token, events] of groups) {
      const body = (list: FeedbackEvent[]) => JSON.stringify(token ? { token, feedback: list } : { feedback: list });
      let chunk: FeedbackEvent[] = [];
      for (const event of events) {
        if (chunk.length && bytes(body([...chunk, event])) >= MAX_BODY_BYTES) {
          if (!beacon(endpoint, body(chunk))) return; // over the browser's quota: next page resends
          chunk = [];
        }
        chunk.push(event);
      }
      if (chunk.length && !beacon(endpoint, body(chunk))) return;
    }
    // Entries stay queued and stored: if a beacon is lost, the next page resends them, and
    // their ids make a resend of something that did arrive a harmless duplicate.
  }

  const onOnline = () => {
    clearTimeout(timer);
    timer = undefined;
    void pump();
  };
  // Seen again (or back from the back-forward cache): the queue is this live page's once more.
  const onVisibility = () => (doc?.visibilityState === "hidden" ? onHide() : save());
  const onShow = () => save();
  win?.addEventListener("online", onOnline);
  win?.addEventListener("pagehide", onHide);
  win?.addEventListener("pageshow", onShow);
  doc?.addEventListener("visibilitychange", onVisibility);
  adopt();
  if (queue.length) void pump(); // left over from earlier pages

  return {
    sendFeedback(links, feedback) {
      try {
        return sendFeedback(links, feedback);
      } catch (error) {
        report(String(error), [feedback]);
        return feedback?.id ?? "";
      }
    },
    async flush() {
      onOnline();
      await running;
      return queue.length === 0;
    },
    pending: () => queue.length,
    close() {
      clearTimeout(timer);
      timer = undefined;
      win?.removeEventListener("online", onOnline);
      win?.removeEventListener("pagehide", onHide);
      win?.removeEventListener("pageshow", onShow);
      doc?.removeEventListener("visibilitychange", onVisibility);
    },
  };
}
