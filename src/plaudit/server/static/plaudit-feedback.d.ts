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
export type FeedbackEvent = FeedbackOptions & FeedbackTarget & {
    kind: Kind;
    value?: unknown;
};
/** Builders, one per kind: `Feedback.thumbUp({ name: "helpful", comment: "spot on" })`. */
export declare const Feedback: {
    thumb: (o: FeedbackOptions & {
        value: 1 | -1 | "up" | "down";
    }) => FeedbackEvent;
    thumbUp: (o: FeedbackOptions) => FeedbackEvent;
    thumbDown: (o: FeedbackOptions) => FeedbackEvent;
    number: (o: FeedbackOptions & {
        value: number;
    }) => FeedbackEvent;
    bool: (o: FeedbackOptions & {
        value: boolean;
    }) => FeedbackEvent;
    text: (o: FeedbackOptions & {
        value: string;
    }) => FeedbackEvent;
    enum: (o: FeedbackOptions & {
        value: string;
    }) => FeedbackEvent;
    /** Something happened (copy, regenerate, share): no value. */
    signal: (o: FeedbackOptions) => FeedbackEvent;
    /** The answer the user wanted instead. */
    correction: (o: FeedbackOptions & {
        value: unknown;
    }) => FeedbackEvent;
    object: (o: FeedbackOptions & {
        value: Record<string, unknown>;
    }) => FeedbackEvent;
};
/** What finally failed: the events, the HTTP status if there was one, and why. */
export declare class FeedbackError extends Error {
    readonly feedback: FeedbackEvent[];
    readonly status?: number | undefined;
    constructor(message: string, feedback: FeedbackEvent[], status?: number | undefined);
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
    document?: EventTarget & {
        visibilityState?: string;
    };
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
/** A client that delivers feedback to the Plaudit server at `config.url`. */
export declare function createFeedbackClient(config: ClientConfig, options?: ClientOptions): FeedbackClient;
export {};
