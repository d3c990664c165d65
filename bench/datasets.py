"""Datasets and queues benchmark (issue 12): `from_feedback` over 100,000 matching events, reading
a 10,000-example version, and how soon a queue's fill picks up a matching event.

    python -m bench.datasets            # 100,000 events on 25,000 spans in a fresh SQLite file
    python -m bench.datasets --quick    # 10,000 events, 20 fill probes
    python -m bench.datasets --json     # machine-readable figures

Spans and feedback are loaded into the database directly (the load is not what is measured);
then `plaudit serve` is started as a user would and driven over loopback HTTP with a token made
by `plaudit token create`:
- `from_feedback`: one `POST /v1/datasets/{name}/examples` whose filter matches every event
  (4 per span): wall time until the version is answered. Target ≤ 5 s.
- read: `GET …/examples` of a 10,000-example version, as one NDJSON stream and as ten JSON
  pages of 1,000; median of 5. Target ≤ 200 ms.
- fill lag: a queue fills from `name = "lag-probe"`; probes are sent one at a time, each on a new
  span, and the queue's items are polled every 10 ms; p50/p99 of send → item listed. Target
  p99 ≤ 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.console import admin_token, serve
from bench.ingest import free_port
from plaudit.core.privacy import PiiMode
from plaudit.core.validation import validate_feedback
from plaudit.store.bulk import insert_rows
from plaudit.store.database import create_database_engine
from plaudit.store.feedback import StoreFeedback
from plaudit.store.migrate import upgrade
from plaudit.store.schema import spans, to_micros

PROJECT = "bench"  # the project bench.console.admin_token makes its token for
INPUT = '[{"role": "user", "parts": [{"type": "text", "content": "Where is my order %d?"}]}]'
OUTPUT = '[{"role": "assistant", "parts": [{"type": "text", "content": "It shipped (%d)."}]}]'


def _span_row(index: int, now: datetime) -> dict[str, Any]:
    start = int(now.timestamp() * 1e9) - index * 1_000_000
    attributes = {"gen_ai.input.messages": INPUT % index, "gen_ai.output.messages": OUTPUT % index,
                  "plaudit.capability": "support-agent", "plaudit.step": "respond"}  # fmt: skip
    return {
        "project": PROJECT, "trace_id": f"{index + 1:032x}", "span_id": f"{index + 1:016x}",
        "parent_span_id": None, "name": "respond", "kind": "INTERNAL", "start_time_ns": start,
        "end_time_ns": start + 500_000, "status_code": "UNSET", "status_message": "",
        "attributes": attributes, "events": [], "links": [], "resource": {}, "scope": {},
        "capability": "support-agent", "step": "respond", "conversation_id": None,
        "user_id": None, "received_at": to_micros(now),
    }  # fmt: skip


def load(database_url: str, events: int) -> float:
    """`events` 👎 events, 4 per span, with their spans; seconds taken."""
    started = time.perf_counter()
    engine = create_database_engine(database_url)
    upgrade(engine)
    now = datetime.now(UTC)
    span_count = events // 4
    with engine.begin() as connection:
        insert_rows(connection, spans, [_span_row(i, now) for i in range(span_count)])
    for first in range(0, events, 5_000):
        checked = []
        for n in range(first, min(first + 5_000, events)):
            span = n % span_count
            raw = {"id": f"ev-{n}", "name": "bench-thumb", "value": -1, "comment": "wrong",
                   "user_id": f"u{n // span_count}", "trace_id": f"{span + 1:032x}",
                   "span_id": f"{span + 1:016x}"}  # fmt: skip
            event = validate_feedback(raw, pointer="", now=now, configs={})
            assert not isinstance(event, list), event
            checked.append(event)
        with engine.begin() as connection:
            StoreFeedback(PROJECT, checked, now, None, pii=PiiMode.REDACT).apply(connection)
    engine.dispose()
    return time.perf_counter() - started


def _post(client: httpx.Client, path: str, body: Any) -> Any:
    answer = client.post(path, json=body)
    if answer.status_code >= 300:
        raise SystemExit(f"{path}: {answer.status_code} {answer.text[:1000]}")
    return answer.json()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used: what a request cost the server, whatever
    else the machine was doing."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def from_feedback(client: httpx.Client, pid: int) -> tuple[float, float, int]:
    """Wall and server CPU seconds of one from_feedback over every event; examples made."""
    _post(client, "/v1/datasets", {"name": "all-thumbs"})
    started, cpu = time.perf_counter(), cpu_seconds(pid)
    body = {"from_feedback": {"query": 'name = "bench-thumb" and value = -1'}}
    answer = _post(client, "/v1/datasets/all-thumbs/examples", body)
    return time.perf_counter() - started, cpu_seconds(pid) - cpu, len(answer["results"])


def read_version(client: httpx.Client, repeat: int) -> dict[str, float]:
    """Median ms to read a 10,000-example version whole (NDJSON) and in JSON pages."""
    _post(client, "/v1/datasets", {"name": "ten-thousand"})
    body = {"from_feedback": {"query": 'name = "bench-thumb"', "limit": 10_000}}
    version = _post(client, "/v1/datasets/ten-thousand/examples", body)["version"]
    path = "/v1/datasets/ten-thousand/examples"
    ndjson, pages = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        lines = client.get(path, params={"version": version},
                           headers={"accept": "application/x-ndjson"}).text.count("\n")  # fmt: skip
        ndjson.append((time.perf_counter() - started) * 1000)
        started, cursor, read = time.perf_counter(), None, 0
        while True:
            params = {"version": version, "limit": 1000, **({"cursor": cursor} if cursor else {})}
            page = client.get(path, params=params).json()
            read += len(page["items"])
            if (cursor := page["next_cursor"]) is None:
                break
        pages.append((time.perf_counter() - started) * 1000)
    return {"examples": float(min(lines, read)), "ndjson_ms": statistics.median(ndjson),
            "json_pages_ms": statistics.median(pages)}  # fmt: skip


def fill_lag(client: httpx.Client, probes: int) -> list[float]:
    """Seconds from sending each probe until its span is a queue item."""
    client.put("/v1/feedback-configs/bench-verdict", json={"kind": "thumb"})
    _post(client, "/v1/annotation-queues", {"name": "lag", "feedback_names": ["bench-verdict"],
                                            "fill": {"query": 'name = "lag-probe"'}})  # fmt: skip
    lags = []
    for _ in range(probes):
        trace, span = secrets.token_hex(16), secrets.token_hex(8)
        started = time.perf_counter()
        _post(client, "/v1/feedback", {"name": "lag-probe", "trace_id": trace, "span_id": span,
                                       "value": "down"})  # fmt: skip
        while True:
            items = client.get("/v1/annotation-queues/lag/items", params={"limit": 1000}).json()
            if any(i["span_id"] == span for i in items["items"]):
                break
            if time.perf_counter() - started > 10:
                raise SystemExit("a probe was never queued")
            time.sleep(0.01)
        lags.append(time.perf_counter() - started)
    return lags


def _p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(events: int, probes: int) -> dict[str, Any]:
    """Load, start `plaudit serve`, measure; the figures."""
    work = Path(tempfile.mkdtemp(prefix="plaudit-bench-datasets-"))
    database_url = f"sqlite:///{work / 'plaudit.db'}"
    print(f"loading {events:,} events…", file=sys.stderr)
    loaded = load(database_url, events)
    token, port = admin_token(database_url), free_port()
    process, how = serve(database_url, port, work / "server.log")
    try:
        headers = {"authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120) as c:
            seconds, cpu, made = from_feedback(c, process.pid)
            read = read_version(c, 5)
            lags = fill_lag(c, probes)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return {
        "server": how, "database": "sqlite", "events": events, "load_s": round(loaded, 2),
        "from_feedback_s": round(seconds, 3), "from_feedback_cpu_s": round(cpu, 2),
        "from_feedback_examples": made, "load_average": os.getloadavg()[0],
        "read_10k_ndjson_ms": round(read["ndjson_ms"], 1),
        "read_10k_json_pages_ms": round(read["json_pages_ms"], 1),
        "read_examples": int(read["examples"]),
        "fill_lag_p50_ms": round(_p(lags, 0.5) * 1000, 1),
        "fill_lag_p99_ms": round(_p(lags, 0.99) * 1000, 1), "fill_probes": probes,
    }  # fmt: skip


def show(report: dict[str, Any]) -> None:
    """The figures next to their targets."""
    print(f"from_feedback over {report['events']:,} events → {report['from_feedback_examples']:,} "
          f"examples: {report['from_feedback_s']:.2f} s, server CPU "
          f"{report['from_feedback_cpu_s']:.2f} s (target ≤ 5 s)")  # fmt: skip
    print(f"read a {report['read_examples']:,}-example version: NDJSON "
          f"{report['read_10k_ndjson_ms']:.0f} ms, JSON pages "
          f"{report['read_10k_json_pages_ms']:.0f} ms (target ≤ 200 ms)")  # fmt: skip
    print(f"queue fill lag over {report['fill_probes']} probes: p50 "
          f"{report['fill_lag_p50_ms']:.0f} ms, p99 {report['fill_lag_p99_ms']:.0f} ms "
          f"(target p99 ≤ 1,000 ms)")  # fmt: skip
    print(f"load average during the run: {report['load_average']:.1f} on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 events, 20 probes")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    report = run(*((10_000, 20) if args.quick else (100_000, 100)))
    if args.json:
        print(json.dumps(report))
    else:
        show(report)


if __name__ == "__main__":
    main()
