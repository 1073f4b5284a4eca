"""The ``cityops`` command line."""
