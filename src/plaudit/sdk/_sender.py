"""The background sender: a bounded queue and one thread that delivers it to Plaudit.

Feedback entries are posted in batches (≤ 1,000 events, ≤ 4 MiB) to `POST /v1/feedback`, one
batch at a time and in order, so a revision never overtakes the event it revises; enrichment
entries are sent one by one as `PATCH`. A failed request is retried — exponential backoff with
jitter, or `Retry-After` when the server gives one — on 408/425/429/5xx and connection errors,
until it succeeds or shutdown gives up. Other 4xx answers are reported and not retried.

Drop policy: the queue holds `max_queue` entries; when it is full the *new* entry is dropped,
counted in `dropped`, and reported (as `FeedbackDropped`) by the thread the next time it wakes.
"""

import atexit
import email.utils
import os
import random
import threading
import time
import weakref
from collections import deque
from datetime import UTC, datetime
from typing import Final, NamedTuple

import httpx

from plaudit.sdk._safety import (
    DeliveryFailed,
    ErrorHandler,
    FeedbackDropped,
    FeedbackRejected,
    PlauditSdkError,
    guarded,
    log,
    report,
)

# Our own generator: the app's `random` state (which it may seed, or which a test framework
# watches) is left alone by the SDK's background threads.
_JITTER = random.Random()

MAX_BATCH_EVENTS: Final = 1000
MAX_BATCH_BYTES: Final = 4 * 1024 * 1024  # the server takes 5 MiB; keep headroom
RETRY_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})


class Entry(NamedTuple):
    """One queued item: feedback (path None, batched) or an enrichment PATCH to `path`."""

    id: str
    body: bytes
    path: str | None = None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    detail = body.get("detail") if isinstance(body, dict) else None
    return f"HTTP {response.status_code}: {detail or response.text[:200]}"


class _Retry(Exception):
    """A request failed in a way that retrying can fix."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


class Sender:
    """A bounded queue of encoded entries and the thread that delivers them."""

    def __init__(
        self,
        url: str | None,
        token: str | None,
        on_error: ErrorHandler | None,
        *,
        max_queue: int,
        batch_size: int,
        flush_interval: float,
        max_backoff: float,
        timeout: float,
        exit_timeout: float,
    ) -> None:
        self.url = url
        self.token = token
        self.on_error = on_error
        self.max_queue = max(1, max_queue)
        self.batch_size = min(max(1, batch_size), MAX_BATCH_EVENTS)
        self.flush_interval = flush_interval
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.exit_timeout = exit_timeout
        self.dropped = 0
        self._closed = False
        self.reset()
        _SENDERS.add(self)

    def reset(self) -> None:
        """Fresh locks, queue and thread (also in a forked child, where the parent's are void)."""
        self._queue: deque[Entry] = deque()
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._accepted = 0
        self._done = 0
        self._unreported_drops = 0
        self._given_up = 0
        self._deadline: float | None = None

    def http(self) -> httpx.Client:
        """An HTTP client for the server, with the token."""
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        headers["user-agent"] = "plaudit-python-sdk"
        return httpx.Client(base_url=self.url or "", headers=headers, timeout=self.timeout)

    def enqueue(self, entry: Entry) -> bool:
        """Queue `entry`; False if it was dropped (full, shut down or no URL: reported)."""
        with self._lock:
            usable = not self._closed and self.url is not None
            accepted = usable and len(self._queue) < self.max_queue
            if accepted:
                self._queue.append(entry)
                self._accepted += 1
                if self._thread is None:
                    self._start()
                # Wake the sender once, when a batch fills up; while it drains it needs no call.
                wake = len(self._queue) == self.batch_size
            elif usable:
                self.dropped += 1
                self._unreported_drops += 1
                wake = self._unreported_drops == 1  # the sender reports drops when it wakes
            else:
                wake = False
        if wake:
            self._wake.set()
        if not usable:
            report(self._unusable(), self.on_error)
        return accepted

    def _unusable(self) -> PlauditSdkError:
        if self._closed:
            return PlauditSdkError("this Plaudit client was shut down; the item was not sent")
        return PlauditSdkError("no Plaudit URL: pass url= or set PLAUDIT_URL; item not sent")

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="plaudit-sender", daemon=True)
        self._thread.start()
        atexit.register(self._at_exit)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is stored (or refused by the server).

        False if `timeout` ran out first, or if items were given up meanwhile (at shutdown).
        """
        if threading.current_thread() is self._thread:
            return False  # called from on_error on the sender thread: waiting would deadlock
        with self._settled:
            target, given_up = self._accepted, self._given_up
            self._wake.set()
            settled = self._settled.wait_for(lambda: self._done >= target, timeout)
            return settled and self._given_up == given_up

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush for up to `timeout` seconds (default `exit_timeout`), then stop the sender.

        Items still unsent after that are given up and reported. Answers whether all were sent.
        """
        wait = self.exit_timeout if timeout is None else timeout
        with self._lock:
            self._deadline = time.monotonic() + wait
            given_up_before = self._given_up
        flushed = self.flush(wait)
        with self._lock:
            self._closed = True
            thread = self._thread
        self._stop.set()
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(wait, 1.0))
        atexit.unregister(self._at_exit)
        with self._lock:
            return flushed and self._given_up == given_up_before

    def _at_exit(self) -> None:
        with guarded(self.on_error):
            self.shutdown()

    @property
    def pending(self) -> int:
        """Items queued or in flight."""
        with self._lock:
            return self._accepted - self._done

    def _run(self) -> None:
        http = self.http()
        try:
            while True:
                self._wake.wait(self.flush_interval)
                self._wake.clear()
                self._report_drops()
                while batch := self._take():
                    self._deliver(http, batch)
                    self._report_drops()
                if self._stop.is_set():
                    return
        except Exception as error:  # a bug here must not kill the app; report and stop sending
            report(error, self.on_error)
        finally:
            http.close()

    def _take(self) -> list[Entry]:
        with self._lock:
            if not self._queue:
                return []
            first = self._queue.popleft()
            batch, size = [first], len(first.body)
            if first.path is not None:
                return batch
            while self._queue and len(batch) < self.batch_size:
                following = self._queue[0]
                if following.path is not None or size + len(following.body) > MAX_BATCH_BYTES:
                    break
                batch.append(self._queue.popleft())
                size += len(following.body)
            return batch

    def _settle(self, count: int) -> None:
        with self._settled:
            self._done += count
            self._settled.notify_all()

    def _report_drops(self) -> None:
        with self._lock:
            count, self._unreported_drops = self._unreported_drops, 0
        if count:
            report(FeedbackDropped(count, self.dropped, self.max_queue), self.on_error)

    def _deliver(self, http: httpx.Client, batch: list[Entry]) -> None:
        attempt = 0
        while True:
            try:
                self._post(http, batch)
                break
            except _Retry as retry:
                delay = self._backoff(attempt, retry.after)
                if not self._sleep(delay):
                    with self._lock:
                        self._given_up += len(batch)
                    report(
                        DeliveryFailed(f"gave up {len(batch)} item(s) at shutdown: {retry}"),
                        self.on_error,
                    )
                    break
                if attempt == 0:
                    log.info("plaudit: %s; retrying in %.1fs", retry, delay)
                attempt += 1
            except Exception as error:  # not retryable: report it and move on to the next batch
                report(error, self.on_error)
                break
        self._settle(len(batch))

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, 300.0)
        ceiling = min(self.max_backoff, 0.2 * 2.0 ** min(attempt, 30))
        # "Equal jitter": at least half the ceiling, so many clients never retry in lockstep.
        return ceiling / 2 + _JITTER.uniform(0, ceiling / 2)

    def _sleep(self, delay: float) -> bool:
        """Wait `delay` seconds; False when the shutdown deadline leaves no time to retry."""
        with self._lock:
            deadline = self._deadline
        if self._stop.is_set():
            return False  # shut down: the flush before it already had its chance
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            delay = min(delay, remaining)
        self._stop.wait(delay)
        return True

    def _post(self, http: httpx.Client, batch: list[Entry]) -> None:
        first = batch[0]
        try:
            if first.path is not None:
                response = http.patch(first.path, content=first.body, headers=_JSON)
            else:
                body = b'{"feedback":[' + b",".join(e.body for e in batch) + b"]}"
                response = http.post("/v1/feedback", content=body, headers=_JSON)
        except httpx.TransportError as error:
            raise _Retry(f"cannot reach Plaudit at {self.url}: {error!r}") from None
        if response.status_code in RETRY_STATUSES or response.status_code >= 500:
            raise _Retry(_detail(response), _retry_after(response))
        if response.status_code >= 400:
            what = first.id if len(batch) == 1 else f"a batch of {len(batch)}"
            report(FeedbackRejected(what, _detail(response), response.status_code), self.on_error)
            return
        if first.path is None:
            self._check_results(response)

    def _check_results(self, response: httpx.Response) -> None:
        try:
            results = response.json()["results"]
        except (ValueError, KeyError, TypeError):
            return
        for result in results:
            if result.get("status") == "rejected":
                detail = (result.get("error") or {}).get("detail", "rejected")
                report(FeedbackRejected(result.get("id"), detail, 422), self.on_error)


_JSON: Final = {"content-type": "application/json"}
_SENDERS: "weakref.WeakSet[Sender]" = weakref.WeakSet()


def _after_fork() -> None:
    for sender in list(_SENDERS):
        sender.reset()


os.register_at_fork(after_in_child=_after_fork)
