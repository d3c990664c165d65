"""A full write queue over HTTP: while another program holds the writer back, writes beyond
`PLAUDIT_WRITE_QUEUE` are refused at once with 503 and `Retry-After: 1` (not after the write
deadline); once it lets go, the held write commits and the refused ones go through on retry.
"""

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from plaudit.settings import Settings
from plaudit.store.database import create_database_engine
from plaudit.store.writer import WRITE_LOCK
from tests.conftest import free_port, make_tokens, serving, until

TRACE = "b7ad6b7169203331a0c5c1e6f0f0e4a1"
BOUND = 60.0  # seconds to wait for what must happen: generous, for a loaded 2-core machine


@contextmanager
def writer_held_back(database_url: str) -> Iterator[None]:
    """Another program holds the lock the server's writer needs (the file's write lock on
    SQLite, the writers' advisory lock on PostgreSQL) until the block ends."""
    if database_url.startswith("sqlite"):
        locker = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        return
    engine = create_database_engine(database_url)
    try:
        with engine.connect() as connection:
            connection.execute(text(f"SELECT pg_advisory_lock({WRITE_LOCK})"))
            try:
                yield
            finally:
                connection.execute(text(f"SELECT pg_advisory_unlock({WRITE_LOCK})"))
                connection.commit()
    finally:
        engine.dispose()


def test_a_full_queue_answers_503_with_retry_after_at_once(database_url: str) -> None:
    token = make_tokens(database_url)[0]
    headers = {"authorization": f"Bearer {token}"}
    # A write deadline well past the waits below: the held write must not miss it while a
    # loaded machine is slow to send the others, which must be refused at once, not at the
    # deadline (their answer says which).
    settings = Settings(
        database_url=database_url, port=free_port(), write_queue=1, write_timeout=2 * BOUND
    )
    with serving(settings) as url:

        def send(event_id: str) -> httpx.Response:
            event = {"id": event_id, "name": "q", "trace_id": TRACE, "value": 1}
            return httpx.post(f"{url}/v1/feedback", json=event, headers=headers, timeout=60)

        answers: dict[str, httpx.Response] = {}

        def sender(event_id: str) -> threading.Thread:
            thread = threading.Thread(target=lambda: answers.update({event_id: send(event_id)}))
            thread.start()
            return thread

        ids = [f"queued-{n}-{free_port()}" for n in range(3)]
        with writer_held_back(database_url):
            threads = [sender(event_id) for event_id in ids]
            # At most one write (of ours, or the server's own queue filler) waits in the queue
            # of 1 for the lock; the others find it full.
            assert until(lambda: len(answers) >= 2, BOUND)
            refused = dict(answers)
        for thread in threads:
            thread.join(timeout=60)
        assert len(refused) >= 2
        for answer in answers.values():
            if answer.status_code == 200:  # it waited for the lock, then committed
                continue
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"] == "1"
            assert answer.headers["content-type"] == "application/problem+json"
            assert "catching up" in answer.json()["detail"]
        assert all(answer.status_code == 503 for answer in refused.values())
        for event_id in ids:
            if answers[event_id].status_code == 503:  # retried as told
                assert until(lambda event_id=event_id: send(event_id).status_code == 200, BOUND)
        listed = httpx.get(
            f"{url}/v1/feedback", params={"trace_id": TRACE, "limit": 100}, headers=headers
        ).json()["items"]
        assert set(ids) <= {event["id"] for event in listed}
