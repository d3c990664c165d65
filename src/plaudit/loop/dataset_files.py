"""Datasets as files: NDJSON (one example per line, the API's shape) and CSV (JSON in cells),
written a page at a time; NDJSON read back for import."""

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any, Final

import msgspec

from plaudit.core.validation import Issue
from plaudit.errors import ValidationFailed
from plaudit.store.datasets import with_id

CSV_COLUMNS: Final = (
    "id", "input", "output", "expected", "metadata", "source", "annotation_status",
)  # fmt: skip
PAGE: Final = 1_000
# Exports read bigger pages: fewer queries and thread hops per version, a few MB held at a time.
EXPORT_PAGE: Final = 5_000
_encode = msgspec.json.Encoder()


def ndjson_page(examples: list[dict[str, Any]]) -> bytes:
    """Examples as NDJSON lines."""
    return b"".join(_encode.encode(e) + b"\n" for e in examples)


def _cell(column: str, value: Any) -> str:
    """id and status as they are; the JSON columns as JSON text (empty for null)."""
    if column in ("id", "annotation_status"):
        return str(value)
    return "" if value is None else _encode.encode(value).decode()


def csv_header() -> bytes:
    """The CSV header line."""
    return (",".join(CSV_COLUMNS) + "\r\n").encode()


def csv_page(examples: list[dict[str, Any]]) -> bytes:
    """Examples as CSV rows (after `csv_header`)."""
    out = io.StringIO()
    writer = csv.writer(out)
    for example in examples:
        writer.writerow([_cell(c, example.get(c)) for c in CSV_COLUMNS])
    return out.getvalue().encode()


def pages(read: Callable[[str | None], list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
    """Every page `read(after_id)` gives, until a short one."""
    after: str | None = None
    while True:
        page = read(after)
        if page:
            yield page
        if len(page) < PAGE:
            return
        after = page[-1]["id"]


def text_pages(
    read: Callable[[str | None], list[tuple[str, bytes]]],
) -> Iterator[list[tuple[str, bytes]]]:
    """Every page of (id, content text) `read(after_id)` gives, until a short one (pages of
    EXPORT_PAGE)."""
    after: str | None = None
    while True:
        page = read(after)
        if page:
            yield page
        if len(page) < EXPORT_PAGE:
            return
        after = page[-1][0]


def ndjson_lines(page: list[tuple[str, bytes]]) -> bytes:
    """(id, content text) pairs as NDJSON lines, spliced without decoding."""
    return b"".join(with_id(example_id, content) + b"\n" for example_id, content in page)


def decoded(page: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """(id, content text) pairs as example dicts."""
    return [{"id": example_id, **msgspec.json.decode(content)} for example_id, content in page]


def ndjson_items(body: bytes) -> list[Any]:
    """The JSON values of an NDJSON body (blank lines skipped); 422 naming a bad line."""
    items: list[Any] = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(msgspec.json.decode(line))
        except msgspec.DecodeError:
            raise ValidationFailed(
                f"line {number} is not JSON",
                issues=[Issue(f"/{len(items)}", f"line {number} is not JSON")],
            ) from None
    return items
