"""`python -m plaudit` runs the CLI."""

from plaudit.cli import main

main()
