"""In/out types of the organisation module (also used by other modules)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cityops.org.roles import Role

AreaLevel = Literal["city", "district", "street", "community", "grid"]
LEVELS: tuple[str, ...] = ("city", "district", "street", "community", "grid")
CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AreaIn(BaseModel):
    code: str = Field(min_length=1, max_length=32, pattern=CODE.pattern)
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=100)
    level: AreaLevel
    parent_code: str | None = None
    geometry: dict[str, Any]


class AreaOut(_Out):
    id: uuid.UUID
    code: str
    name_zh: str
    name_en: str
    level: str
    parent_id: uuid.UUID | None
    path: str
    center_lon: float
    center_lat: float


class AreaRef(_Out):
    id: uuid.UUID
    code: str
    name_zh: str
    name_en: str
    level: str


class Location(BaseModel):
    """Where a point falls: the areas from district down to grid, and the finest path."""

    path: str
    district: AreaRef | None = None
    street: AreaRef | None = None
    community: AreaRef | None = None
    grid: AreaRef | None = None


DEPARTMENT_CODE = r"^[A-Za-z0-9_.-]+$"


class DepartmentIn(BaseModel):
    code: str = Field(min_length=1, max_length=64, pattern=DEPARTMENT_CODE)
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=150)
    kind: str = Field(min_length=1, max_length=32)
    area_code: str
    phone: str | None = Field(default=None, max_length=32)


class DepartmentUpdate(BaseModel):
    """Fields to change; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    code: str | None = Field(default=None, min_length=1, max_length=64, pattern=DEPARTMENT_CODE)
    name_zh: str | None = Field(default=None, min_length=1, max_length=100)
    name_en: str | None = Field(default=None, min_length=1, max_length=150)
    kind: str | None = Field(default=None, min_length=1, max_length=32)
    area_code: str | None = None
    phone: str | None = Field(default=None, max_length=32)
    active: bool | None = None


class DepartmentOut(_Out):
    id: uuid.UUID
    code: str
    name_zh: str
    name_en: str
    kind: str
    area_id: uuid.UUID
    phone: str | None
    active: bool


class DepartmentRef(_Out):
    id: uuid.UUID
    code: str
    name_zh: str
    name_en: str


class UserIn(BaseModel):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    display_name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=8, max_length=256)
    role: Role
    department_code: str | None = None
    area_code: str | None = None
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=255)
    locale: Literal["zh-CN", "en"] = "zh-CN"

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError("not an e-mail address")
        return value


class UserUpdate(BaseModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    role: Role | None = None
    department_code: str | None = None
    area_code: str | None = None
    active: bool | None = None
    locale: Literal["zh-CN", "en"] | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)


class UserOut(_Out):
    id: uuid.UUID
    username: str
    display_name: str
    role: str
    department_id: uuid.UUID | None
    area_id: uuid.UUID | None
    phone: str | None
    email: str | None
    locale: str
    active: bool
    created_at: datetime


class UserRef(_Out):
    id: uuid.UUID
    username: str
    display_name: str
    role: str


class Me(BaseModel):
    user: UserOut
    permissions: list[str]
    area_path: str | None
    department: DepartmentRef | None


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class ApiKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    username: str


class ApiKeyOut(_Out):
    id: uuid.UUID
    name: str
    prefix: str
    user_id: uuid.UUID
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(BaseModel):
    key: str
    api_key: ApiKeyOut
