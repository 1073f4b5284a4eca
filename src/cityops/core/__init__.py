"""Shared kernel: configuration, database, auth primitives, audit, event bus, tasks, geo, errors.

Nothing in here imports any other cityops package.
"""
