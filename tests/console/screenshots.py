"""Refresh the console screenshots in docs/images: `python -m tests.console.screenshots`.

The test run writes its screenshots to a temporary folder, so that tests never change tracked
files; this command runs the page tests once more with `--update-screenshots`.
"""

import sys
from pathlib import Path

import pytest


def main() -> int:
    """Run the pictured page tests, writing docs/images/<page>.png."""
    tests = Path(__file__).with_name("test_pages_in_browser.py")
    return int(pytest.main([str(tests), "-k", "pictured", "--update-screenshots", "-q"]))


if __name__ == "__main__":
    sys.exit(main())
