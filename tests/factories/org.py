"""Users made through the organisation service, with a login token when a test needs one."""

from __future__ import annotations

from collections.abc import Callable

from cityops.core.auth import Actor
from cityops.core.runtime import Runtime
from cityops.org import service as org
from cityops.org.schemas import UserIn, UserOut

PASSWORD = "correct-horse-battery"


def make_user(
    rt: Runtime,
    actor: Callable[[str], Actor],
    username: str,
    role: str,
    *,
    area: str | None = None,
    department: str | None = None,
) -> UserOut:
    """A new active user (created by the seeded admin) with the shared test password."""
    data = UserIn(
        username=username,
        display_name=username,
        password=PASSWORD,
        role=role,  # type: ignore[arg-type]
        area_code=area,
        department_code=department,
    )
    return org.create_user(rt, actor=actor("admin"), data=data)


def bearer(rt: Runtime, username: str) -> dict[str, str]:
    """The Authorization header of a fresh login."""
    token = org.login(rt, username=username, password=PASSWORD).access_token
    return {"Authorization": f"Bearer {token}"}
