"""A bad setting stops `plaudit serve` at once with one line naming it (exit 2): never a
traceback, never a silent default, and before the database is touched."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from plaudit.settings import SettingsError, from_environment

BAD = [
    ({"PLAUDIT_PORT": "eighty"}, [], "PLAUDIT_PORT"),
    ({"PLAUDIT_PORT": "70000"}, [], "PLAUDIT_PORT"),
    ({"PLAUDIT_LOG_LEVEL": "loud"}, [], "PLAUDIT_LOG_LEVEL"),
    ({"PLAUDIT_LOG_FORMAT": "xml"}, [], "PLAUDIT_LOG_FORMAT"),
    ({"PLAUDIT_WRITE_TIMEOUT": "soon"}, [], "PLAUDIT_WRITE_TIMEOUT"),
    ({"PLAUDIT_WRITE_TIMEOUT": "0"}, [], "PLAUDIT_WRITE_TIMEOUT"),
    ({"PLAUDIT_WRITE_TIMEOUT": "nan"}, [], "PLAUDIT_WRITE_TIMEOUT"),
    ({"PLAUDIT_PROXY_TIMEOUT": "-1"}, [], "PLAUDIT_PROXY_TIMEOUT"),
    ({"PLAUDIT_RATE_LIMIT_IP_PER_SECOND": "-5"}, [], "PLAUDIT_RATE_LIMIT_IP_PER_SECOND"),
    ({}, ["--port", "-1"], "--port"),
    ({}, ["--log-level", "loud"], "--log-level"),
    ({}, ["--log-format", "xml"], "--log-format"),
]


def plaudit() -> list[str]:
    script = Path(sys.executable).with_name("plaudit")
    return [str(script)] if script.exists() else [sys.executable, "-m", "plaudit"]


@pytest.mark.parametrize(("env", "flags", "named"), BAD, ids=[b[2] + str(b[0]) for b in BAD])
def test_a_bad_setting_is_one_line_and_exit_2(
    tmp_path: Path, env: dict[str, str], flags: list[str], named: str
) -> None:
    database = tmp_path / "never.db"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PLAUDIT_")}
    done = subprocess.run(
        [*plaudit(), "serve", "--database-url", f"sqlite:///{database}", *flags],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert named in lines[0], done.stderr
    assert not database.exists()


def test_good_values_are_read_and_normalised() -> None:
    environ = {
        "PLAUDIT_PORT": " 8123 ",
        "PLAUDIT_LOG_LEVEL": "WARNING",
        "PLAUDIT_LOG_FORMAT": "Text",
    }
    settings = from_environment(environ)
    assert (settings.port, settings.log_level, settings.log_format) == (8123, "warning", "text")
    assert from_environment(environ, port=9000).port == 9000  # a flag wins over the variable


def test_the_error_names_the_flag_when_the_flag_is_bad() -> None:
    with pytest.raises(SettingsError, match=r"^--port must be"):
        from_environment({"PLAUDIT_PORT": "8000"}, port=0)
