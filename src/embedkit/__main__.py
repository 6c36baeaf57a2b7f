"""``python -m embedkit`` runs the CLI."""

from .cli import main

main()
