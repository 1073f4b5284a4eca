"""``python -m cityops``: the command line (used to start the demo's helper processes)."""

from cityops.cli.main import app

app()
