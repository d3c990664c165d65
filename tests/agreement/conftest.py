"""The console's server (demo data) and Chromium, shared with tests/console."""

from tests.console.conftest import browser, console_server

__all__ = ["browser", "console_server"]
