"""Server settings: one frozen object, read from `PLAUDIT_*` environment variables and CLI flags.

This is the only module that reads `os.environ` for the server.
"""

import ipaddress
import os
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
    dev: bool = False
    cors_origins: tuple[str, ...] = ()
    log_level: str = "info"
    log_format: str = "json"
    access_log: bool = False
    demo: bool = False
    # Seconds a request waits for its write to commit before answering 503 (retry).
    write_timeout: float = 10.0
    # Browser tokens (pk_ and per-span pft_): requests per second sustained, and burst size,
    # per token and per client address; 0 turns a limit off.
    rate_limit_token_per_second: float = 1000.0
    rate_limit_token_burst: int = 2000
    rate_limit_ip_per_second: float = 20.0
    rate_limit_ip_burst: int = 200
    # Console sign-in: a password for project `default` (besides admin tokens), and the secret
    # session cookies are signed with (random per process when unset).
    console_password: str | None = None
    console_secret: str | None = None

    @property
    def loopback(self) -> bool:
        """Whether the server listens on this machine only."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def problem(self) -> str | None:
        """Why these settings must not be used, or None."""
        if self.dev and not self.loopback:
            return (
                "--dev (no tokens) is only allowed on a loopback address such as 127.0.0.1; "
                f"refusing to serve {self.host} without authentication"
            )
        return None


_TRUE: Final = {"1", "true", "yes", "on"}
_RATE_FIELDS: Final = (
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
    if timeout := env.get("PLAUDIT_WRITE_TIMEOUT"):
        values["write_timeout"] = timeout
    for flag in ("dev", "access_log", "demo"):
        if (text := env.get(f"PLAUDIT_{flag.upper()}")) is not None:
            values[flag] = text.strip().lower() in _TRUE
    if origins := env.get("PLAUDIT_CORS_ORIGINS"):
        values["cors_origins"] = tuple(o.strip() for o in origins.split(",") if o.strip())
    if level := env.get("PLAUDIT_LOG_LEVEL"):
        values["log_level"] = level
    if fmt := env.get("PLAUDIT_LOG_FORMAT"):
        values["log_format"] = fmt
    for name in ("console_password", "console_secret"):
        if secret := env.get(f"PLAUDIT_{name.upper()}"):
            values[name] = secret
    for name in _RATE_FIELDS:
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
    return values
