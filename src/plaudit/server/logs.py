"""Structured logs: one JSON object per line, with token-shaped strings masked."""

import logging
import re
import time
import traceback
from typing import Final

import msgspec

# Browser (pk_) and secret (sk_) tokens, signing keys (psk_) and per-span tokens (pft_, which
# hold dots between their parts).
_SECRET: Final = re.compile(r"\b(psk_|pft_|[ps]k_)[A-Za-z0-9_.-]{8,}")


def mask_secrets(text: str) -> str:
    """Replace anything shaped like a Plaudit token by its prefix and stars."""
    return _SECRET.sub(r"\1****", text)


def database_error(error: BaseException) -> str:
    """A database error for the log: its kind, the first line of the driver's message, and where
    it was raised — never the statement's parameters or the server's DETAIL line, which hold the
    feedback text being written."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).splitlines()
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if "site-packages" not in frame.filename][-3:]
    where = "".join(traceback.format_list(ours + frames[-1:])).rstrip()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}\n{where}"


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "message", ...}`; exceptions under `error`."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask_secrets(record.getMessage()),
        }
        if record.exc_info:
            entry["error"] = mask_secrets(self.formatException(record.exc_info))
        return msgspec.json.encode(entry).decode()


class TextFormatter(logging.Formatter):
    """Human-readable lines, secrets masked too."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(super().format(record))


def configure(level: str, fmt: str, access_log: bool = False) -> None:
    """Send every logger (ours, uvicorn's, SQLAlchemy's) through one masked handler; request
    lines only with `access_log`."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = name != "uvicorn.access" or access_log
