"""The people of a department (委办局), for its own staff: whom a case can be handed to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, or_, select

from cityops.core.auth import Actor
from cityops.core.errors import NotFound, PermissionDenied
from cityops.core.pagination import Page, PageParams, contains, order_by_sort, paginate
from cityops.core.runtime import Runtime
from cityops.org import directory
from cityops.org.models import User
from cityops.org.roles import Perm
from cityops.org.schemas import UserRef

MEMBER_SORTS = {"username": User.username, "display_name": User.display_name}


def list_department_members(
    rt: Runtime,
    *,
    actor: Actor,
    department_code: str,
    params: PageParams,
    q: str | None = None,
) -> Page[UserRef]:
    """The active users of a department, for its own staff and for user administrators.

    Only names and roles: a colleague's contact details stay with user administration.
    """
    actor.require(Perm.org_read)
    with rt.db.read() as session:
        department = directory.departments(session).by_code.get(department_code)
        if department is None:
            raise NotFound("department", department_code)
        if not actor.can(Perm.users_manage) and actor.department_id != department.id:
            raise PermissionDenied(
                "only the department's own staff may list its members", code="out_of_jurisdiction"
            )
        query: Select[Any] = select(User).where(
            User.department_id == department.id, User.active.is_(True)
        )
        if q:
            like = contains(q)
            query = query.where(
                or_(
                    User.username.ilike(like, escape="\\"),
                    User.display_name.ilike(like, escape="\\"),
                )
            )
        query = order_by_sort(query, params.sort, MEMBER_SORTS, "display_name,username")
        rows, total = paginate(session, query, params)
        items = [UserRef.model_validate(user) for user in rows]
    return Page(items=items, total=total, page=params.page, page_size=params.page_size)
