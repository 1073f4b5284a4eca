"""Tables of the organisation module. Other modules never import this file."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cityops.core.db.base import Base, GeoJSON, Timestamps, uuid_pk


class Area(Timestamps, Base):
    """A node of 市 → 区 → 街道 → 社区 → 网格; ``path`` is the chain of codes from the root."""

    __tablename__ = "org_areas"

    id: Mapped[uuid.UUID] = uuid_pk()
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16), index=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("org_areas.id"), index=True)
    path: Mapped[str] = mapped_column(String(255), unique=True)
    depth: Mapped[int] = mapped_column(Integer)
    geometry: Mapped[dict[str, Any]] = mapped_column(GeoJSON)
    center_lon: Mapped[float] = mapped_column(Float)
    center_lat: Mapped[float] = mapped_column(Float)


class Department(Timestamps, Base):
    """A 委办局 (or its district branch) whose jurisdiction is one area and everything under it."""

    __tablename__ = "org_departments"

    id: Mapped[uuid.UUID] = uuid_pk()
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(150))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    area_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_areas.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class User(Timestamps, Base):
    __tablename__ = "org_users"

    id: Mapped[uuid.UUID] = uuid_pk()
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32), index=True)
    department_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("org_departments.id"), index=True
    )
    area_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("org_areas.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(255))
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class AccessToken(Base):
    """A login session: an opaque bearer token stored as a keyed digest."""

    __tablename__ = "org_access_tokens"

    id: Mapped[uuid.UUID] = uuid_pk()
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_users.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ApiKey(Base):
    """A long-lived key for an integration; it acts as its owner user."""

    __tablename__ = "org_api_keys"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_users.id"), index=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
