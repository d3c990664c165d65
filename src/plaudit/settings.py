"""Server settings: one frozen object, read from `PLAUDIT_*` environment variables and CLI flags.

This is the only module that reads `os.environ` for the server.
"""

import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from typing import Final

import msgspec

DEFAULT_DATABASE_URL: Final = "sqlite:///plaudit-data/plaudit.db"
LOG_LEVELS: Final = ("debug", "info", "warning", "error")
LOG_FORMATS: Final = ("json", "text")


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable or flag that set it."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the server is configured with; see docs/configuration.md."""

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    # OTLP/gRPC (TraceService, LogsService) on its own port; 0 turns it off. Needs the
    # `plaudit[grpc]` extra, else the server serves OTLP over HTTP only (docs/configuration.md).
    grpc_port: int = 4317
    dev: bool = False
    cors_origins: tuple[str, ...] = ()
    log_level: str = "info"
    log_format: str = "json"
    access_log: bool = False
    demo: bool = False
    # Seconds a request waits for its write to commit before answering 503 (retry).
    write_timeout: float = 10.0
    # Rows queued for the writer before a write is refused at once with 503 (retry).
    write_queue: int = 200_000
    # Server processes on this machine (PostgreSQL only; see docs/deploy.md).
    workers: int = 1
    # Browser tokens (pk_ and per-span pft_): requests per second sustained, and burst size,
    # per token and per client address; 0 turns a limit off.
    rate_limit_token_per_second: float = 1000.0
    rate_limit_token_burst: int = 2000
    rate_limit_ip_per_second: float = 20.0
    rate_limit_ip_burst: int = 200
    # Addresses or networks of reverse proxies whose X-Forwarded-For names the client; none by
    # default, so a client cannot pick its own address (and rate-limit bucket) with the header.
    trusted_proxies: tuple[str, ...] = ()
    # Console sign-in: a password for project `default` (besides admin tokens), and the secret
    # session cookies are signed with (random per process when unset).
    console_password: str | None = None
    console_secret: str | None = None
    # OpenAI-compatible proxy (docs/proxy.md): upstream name → base URL, and how long to wait for
    # an upstream to answer or to send its next bytes.
    proxy_upstreams: dict[str, str] = msgspec.field(default_factory=dict)
    proxy_timeout: float = 600.0

    @property
    def loopback(self) -> bool:
        """Whether the server listens on this machine only."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def on_sqlite(self) -> bool:
        """Whether the database is a SQLite file."""
        return self.database_url.split(":", 1)[0].split("+", 1)[0] == "sqlite"

    def problem(self) -> str | None:
        """Why these settings must not be used, or None."""
        if self.grpc_port and self.grpc_port == self.port:
            return f"--grpc-port {self.grpc_port} is the HTTP port too: give gRPC a port of its own"
        if self.workers < 1:
            return "--workers must be 1 or more"
        if self.write_queue < 1:
            return "PLAUDIT_WRITE_QUEUE must be 1 or more"
        if (seconds := self._problem_with_seconds()) is not None:
            return seconds
        if self.workers > 1 and self.on_sqlite:
            return (
                "--workers needs PostgreSQL: a SQLite database is served by one process "
                "(it is fast enough for one machine's ingest; see docs/deploy.md)"
            )
        if self.dev and not self.loopback:
            return (
                "--dev (no tokens) is only allowed on a loopback address such as 127.0.0.1; "
                f"refusing to serve {self.host} without authentication"
            )
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                return (
                    f"PLAUDIT_TRUSTED_PROXIES: {proxy!r} is not an IP address or network "
                    "(e.g. 10.0.0.5 or 10.0.0.0/8)"
                )
        return upstreams_problem(self.proxy_upstreams)

    def _problem_with_seconds(self) -> str | None:
        """Timeouts are positive and rates are not negative, all finite: a 0 or NaN deadline
        would refuse every write (or never give up) while the server looks healthy."""
        for field in ("write_timeout", "proxy_timeout"):
            value = getattr(self, field)
            if not (math.isfinite(value) and value > 0):
                return f"PLAUDIT_{field.upper()} must be a positive number of seconds, not {value}"
        for field in ("rate_limit_token_per_second", "rate_limit_ip_per_second"):
            value = getattr(self, field)
            if not (math.isfinite(value) and value >= 0):
                return f"PLAUDIT_{field.upper()} must be 0 (off) or more, not {value}"
        return None


_UPSTREAM_NAME: Final = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def parse_upstreams(text: str) -> dict[str, str]:
    """`name=url,name=url` as a mapping; entries without `=` keep an empty URL (reported later)."""
    upstreams: dict[str, str] = {}
    for entry in text.split(","):
        if entry.strip():
            name, _, url = entry.partition("=")
            upstreams[name.strip()] = url.strip().rstrip("/")
    return upstreams


def upstreams_problem(upstreams: Mapping[str, str]) -> str | None:
    """Why these proxy upstreams cannot be served, or None."""
    for name, url in upstreams.items():
        if not _UPSTREAM_NAME.match(name):
            return f"PLAUDIT_PROXY_UPSTREAMS: {name!r} is not a name (letters, digits, _ . -)"
        if not url.startswith(("http://", "https://")) or len(url) < 9:
            return f"PLAUDIT_PROXY_UPSTREAMS: {name}={url!r} needs an http:// or https:// URL"
    return None


_TRUE: Final = {"1", "true", "yes", "on"}
_NUMBER_FIELDS: Final = (  # read as text, converted (and checked) by the Settings type
    "grpc_port",
    "write_timeout",
    "write_queue",
    "workers",
    "rate_limit_token_per_second",
    "rate_limit_token_burst",
    "rate_limit_ip_per_second",
    "rate_limit_ip_burst",
)


def from_environment(environ: Mapping[str, str] | None = None, /, **overrides: object) -> Settings:
    """Settings from `PLAUDIT_*` variables, then `overrides` (CLI flags; None means unset).

    Raises `SettingsError`, naming the variable or flag, for a value that cannot be used.
    """
    values = _check(_read(os.environ if environ is None else environ), _variable)
    flags = _check({k: v for k, v in overrides.items() if v is not None}, _flag)
    try:
        return msgspec.convert({**values, **flags}, Settings, strict=False)
    except msgspec.ValidationError as error:
        # msgspec says "Expected `float`, got `str` - at `$.write_timeout`": name the setting.
        reason, _, where = str(error).partition(" - at `$.")
        field = where.rstrip("`")
        name, value = (
            (_flag(field), flags[field])
            if field in flags
            else (_variable(field), values.get(field))
        )
        raise SettingsError(f"{name}: {reason.lower()}, not {value!r}") from None


def _variable(field: str) -> str:
    return f"PLAUDIT_{field.upper()}"


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def _read(env: Mapping[str, str]) -> dict[str, object]:
    """The settings the `PLAUDIT_*` variables give, as text (flags as booleans)."""
    values: dict[str, object] = {}
    if url := env.get("PLAUDIT_DATABASE_URL"):
        values["database_url"] = url
    if host := env.get("PLAUDIT_HOST"):
        values["host"] = host
    if port := env.get("PLAUDIT_PORT"):
        values["port"] = port
    for flag in ("dev", "access_log", "demo"):
        if (text := env.get(f"PLAUDIT_{flag.upper()}")) is not None:
            values[flag] = text.strip().lower() in _TRUE
    for name in ("cors_origins", "trusted_proxies"):
        if listed := env.get(f"PLAUDIT_{name.upper()}"):
            values[name] = tuple(item.strip() for item in listed.split(",") if item.strip())
    if level := env.get("PLAUDIT_LOG_LEVEL"):
        values["log_level"] = level
    if fmt := env.get("PLAUDIT_LOG_FORMAT"):
        values["log_format"] = fmt
    for name in ("console_password", "console_secret"):
        if secret := env.get(f"PLAUDIT_{name.upper()}"):
            values[name] = secret
    values.update(_proxy_values(env))
    for name in _NUMBER_FIELDS:
        if (number := env.get(f"PLAUDIT_{name.upper()}")) is not None:
            values[name] = number
    return values


_CHOICES: Final = {"log_level": LOG_LEVELS, "log_format": LOG_FORMATS}


def _check(values: dict[str, object], name: Callable[[str], str]) -> dict[str, object]:
    """Check (and normalise) the port and the log choices in `values`, in place: a typo must
    stop the server with its name, not fall back to a default or fail deep inside start-up."""
    for field, allowed in _CHOICES.items():
        if field in values:
            text = str(values[field]).strip().lower()
            if text not in allowed:
                raise SettingsError(
                    f"{name(field)} must be one of {', '.join(allowed)}, not {values[field]!r}"
                )
            values[field] = text
    if "port" in values:
        port = str(values["port"]).strip()
        if not (port.isdigit() and 1 <= int(port) <= 65535):
            raise SettingsError(f"{name('port')} must be a port from 1 to 65535, not {port!r}")
        values["port"] = int(port)
    if "grpc_port" in values:
        port = str(values["grpc_port"]).strip()
        if not (port.isdigit() and 0 <= int(port) <= 65535):
            raise SettingsError(
                f"{name('grpc_port')} must be a port from 1 to 65535, or 0 for no OTLP/gRPC, "
                f"not {port!r}"
            )
        values["grpc_port"] = int(port)
    return values


_WORKER_SETTINGS: Final = "PLAUDIT_WORKER_SETTINGS"
"""How `plaudit serve --workers N` hands its settings to the worker processes it starts."""


def export_for_workers(settings: Settings) -> None:
    """Put `settings` where `from_worker_environment` finds them in worker processes."""
    os.environ[_WORKER_SETTINGS] = msgspec.json.encode(settings).decode()


def from_worker_environment() -> Settings:
    """The settings `export_for_workers` left in this worker's environment."""
    return msgspec.json.decode(os.environ[_WORKER_SETTINGS], type=Settings)


def _proxy_values(env: Mapping[str, str]) -> dict[str, object]:
    values: dict[str, object] = {}
    if upstreams := env.get("PLAUDIT_PROXY_UPSTREAMS"):
        values["proxy_upstreams"] = parse_upstreams(upstreams)
    if timeout := env.get("PLAUDIT_PROXY_TIMEOUT"):
        values["proxy_timeout"] = timeout
    return values
