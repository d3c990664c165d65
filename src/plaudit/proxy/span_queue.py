"""The proxied calls' spans, queued once their answers are sent and stored in groups.

A caller's answer is the upstream's: it never waits for its span. Each finished call puts its
span here; a flush, `FLUSH_SECONDS` after the first span queued, takes everything queued and
stores it with one write per project, so one transaction carries the spans of every call that
finished meanwhile (or during the previous commit), and a call costs the event loop no writer
future, deadline or wake-up of its own, nor the writer a transaction of its own.

Durability: a span is committed within about `FLUSH_SECONDS` plus one group commit after its
answer's last byte, not before the caller has the answer. A server that stops gracefully stores what
is queued first; one killed outright loses the spans of the calls it finished in those last
milliseconds (the answers themselves were already the caller's). Past `MAX_QUEUED` spans waiting
(the database far behind), new ones are dropped with a warning rather than held without bound.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Final

from plaudit.core.spans import SpanRecord
from plaudit.store.spans import StoreSpans
from plaudit.store.writer import Writer, WriterUnavailable

log = logging.getLogger(__name__)

MAX_QUEUED: Final = 50_000
# Long enough to gather many calls' spans into one transaction at a few hundred calls/s, short
# enough that a span is readable long before anyone could rate its answer.
FLUSH_SECONDS: Final = 0.05


class SpanQueue:
    """Spans waiting to be stored, per project; flushed by one task at a time."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._queued: dict[str, list[SpanRecord]] = {}
        self._count = 0
        self._flushing: asyncio.Task[None] | None = None
        self.dropped = 0

    @property
    def queued(self) -> int:
        """Spans waiting for the next flush."""
        return self._count

    def add(self, project: str, record: SpanRecord) -> None:
        """Queue a finished call's span; a flush starts unless one is under way."""
        if self._count >= MAX_QUEUED:
            self.dropped += 1
            log.warning("proxy span %s not stored: %d spans wait already", record.span_id,
                        self._count)  # fmt: skip
            return
        self._queued.setdefault(project, []).append(record)
        self._count += 1
        if self._flushing is None:
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(FLUSH_SECONDS)
            # Spans queued while a group commits go in the next group.
            while self._queued:
                batch, self._queued, self._count = self._queued, {}, 0
                now = datetime.now(UTC)
                await asyncio.gather(*(self._store(p, r, now) for p, r in batch.items()))
        finally:
            self._flushing = None

    async def _store(self, project: str, records: list[SpanRecord], now: datetime) -> None:
        try:
            await self._writer.write(StoreSpans(project, records, now))
        except WriterUnavailable as error:
            self.dropped += len(records)
            log.warning("%d proxy spans not stored: %s", len(records), error)
        except Exception:  # one bad group must not stop the queue
            self.dropped += len(records)
            log.exception("%d proxy spans not stored", len(records))

    async def drain(self) -> None:
        """Store everything queued (at shutdown)."""
        while self._flushing is not None:
            await asyncio.shield(self._flushing)
