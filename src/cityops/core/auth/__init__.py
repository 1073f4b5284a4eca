"""Authentication primitives: the acting principal, password hashing, opaque tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cityops.core.errors import PermissionDenied
from cityops.core.i18n import text

_hasher = PasswordHasher()


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user (or the system), with role, permissions and jurisdiction.

    ``area_path`` is the materialised path of the area the actor's jurisdiction covers
    (``None`` for city-wide). ``department_id`` is set for department handlers.
    """

    user_id: uuid.UUID | None
    username: str
    role: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    department_id: uuid.UUID | None = None
    area_path: str | None = None
    locale: str = "zh-CN"
    via_api_key: bool = False
    display_name: str = ""

    def can(self, permission: str) -> bool:
        return permission in self.permissions or "*" in self.permissions

    def require(self, permission: str) -> None:
        """Raise PermissionDenied unless the actor holds ``permission``."""
        if not self.can(permission):
            raise PermissionDenied(
                text("role {role!r} may not {permission}", role=self.role, permission=permission)
            )

    def covers(self, path: str | None) -> bool:
        """True when ``path`` lies inside the actor's jurisdiction."""
        if self.area_path is None:
            return True
        return path is not None and (path + "/").startswith(self.area_path + "/")


SYSTEM = Actor(user_id=None, username="system", role="system", permissions=frozenset({"*"}))
# The triage of new reports (智能派单) when it registers and dispatches by itself: city-wide,
# and allowed nothing but reading, registering and dispatching cases.
MACHINE = Actor(
    user_id=None,
    username="dispatch-ai",
    role="system",
    permissions=frozenset({"cases.read", "cases.register", "cases.dispatch"}),
    display_name="智能派单",
)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_secret(prefix: str) -> str:
    """A random bearer secret with a readable prefix (``cot_`` tokens, ``cok_`` API keys)."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def digest_secret(secret: str, key: str) -> str:
    """Keyed digest of a bearer secret: only digests are stored, so a DB leak gives no tokens."""
    return hmac.new(key.encode(), secret.encode(), hashlib.sha256).hexdigest()
