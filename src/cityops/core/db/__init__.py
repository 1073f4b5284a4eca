"""Database kernel: the declarative base with portable types, engines and transactions."""

from cityops.core.db.base import Base, GeoJSON, Timestamps, UTCDateTime, uuid_pk
from cityops.core.db.engine import Database, create_db_engine

__all__ = [
    "Base",
    "Database",
    "GeoJSON",
    "Timestamps",
    "UTCDateTime",
    "create_db_engine",
    "uuid_pk",
]
