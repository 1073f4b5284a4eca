"""Users, logins (opaque expiring tokens) and integration API keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from cityops.core.audit.service import record
from cityops.core.auth import (
    Actor,
    digest_secret,
    hash_password,
    new_secret,
    verify_password,
)
from cityops.core.cache import ExpiringMap, cached_map
from cityops.core.errors import (
    Conflict,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    duplicate,
    invalid,
)
from cityops.core.i18n import text
from cityops.core.pagination import Page, PageParams, contains, order_by_sort, paginate
from cityops.core.runtime import Runtime
from cityops.org import directory, events
from cityops.org.models import AccessToken, ApiKey, Area, Department, User
from cityops.org.roles import AREA_ROLES, DEPARTMENT_ROLES, Perm, Role, permissions_for
from cityops.org.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    DepartmentRef,
    Me,
    TokenOut,
    UserIn,
    UserOut,
    UserRef,
    UserUpdate,
)

# A real hash to check against when the user does not exist, so timing does not reveal names.
_DUMMY_HASH = hash_password("cityops-no-such-user")


def _resolve_placement(
    session: Session, role: Role, department_code: str | None, area_code: str | None
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    department_id = area_id = None
    if department_code:
        department_id = session.scalar(
            select(Department.id).where(Department.code == department_code)
        )
        if department_id is None:
            raise invalid(
                "department_code", text("unknown department {code!r}", code=department_code)
            )
    elif role in DEPARTMENT_ROLES:
        raise invalid("department_code", text("a {role} needs a department", role=role))
    if area_code:
        area_id = session.scalar(select(Area.id).where(Area.code == area_code))
        if area_id is None:
            raise invalid("area_code", text("unknown area {code!r}", code=area_code))
    elif role in AREA_ROLES:
        raise invalid("area_code", text("a {role} needs an area (their grid)", role=role))
    return department_id, area_id


def create_user(rt: Runtime, *, actor: Actor, data: UserIn) -> UserOut:
    """Create a user with a role, and a department or area where the role needs one."""
    actor.require(Perm.users_manage)
    with rt.db.transaction() as tx:
        session = tx.session
        if session.scalar(select(User.id).where(User.username == data.username)):
            raise duplicate(
                "username", text("username {username!r} is taken", username=data.username)
            )
        department_id, area_id = _resolve_placement(
            session, data.role, data.department_code, data.area_code
        )
        now = rt.clock.now()
        user = User(
            username=data.username,
            display_name=data.display_name,
            password_hash=hash_password(data.password),
            role=data.role,
            department_id=department_id,
            area_id=area_id,
            phone=data.phone,
            email=data.email,
            locale=data.locale,
            active=True,
            created_at=now,
            updated_at=now,
        )
        session.add(user)
        session.flush()
        after = data.model_dump(exclude={"password"})
        record(
            session,
            actor=actor,
            action=events.USER_CREATED,
            subject_type="user",
            subject_id=user.id,
            at=now,
            after=after,
        )
        return UserOut.model_validate(user)


def update_user(rt: Runtime, *, actor: Actor, user_id: uuid.UUID, data: UserUpdate) -> UserOut:
    """Change a user's role, placement, status, locale or password."""
    actor.require(Perm.users_manage)
    ensure_not_self_demotion(actor, user_id, data)
    with rt.db.transaction() as tx:
        tx.after_commit(lambda: forget_credentials(rt))
        user = tx.session.get(User, user_id)
        if user is None:
            raise NotFound("user", user_id)
        before = UserOut.model_validate(user).model_dump(mode="json")
        changes = data.model_dump(exclude_unset=True, exclude={"password"})
        role = Role(changes.get("role", user.role))
        if {"role", "department_code", "area_code"} & changes.keys():
            user.department_id, user.area_id = _resolve_placement(
                tx.session, role, changes.get("department_code"), changes.get("area_code")
            )
        for name in ("display_name", "role", "active", "locale"):
            if name in changes:
                setattr(user, name, changes[name])
        if data.password:
            user.password_hash = hash_password(data.password)
        if changes.get("active") is False or data.password:
            _revoke_all_tokens(tx.session, user.id, rt)
        user.updated_at = rt.clock.now()
        out = UserOut.model_validate(user)
        record(
            tx.session,
            actor=actor,
            action=events.USER_UPDATED,
            subject_type="user",
            subject_id=user.id,
            at=user.updated_at,
            before=before,
            after=out.model_dump(mode="json") | {"password_changed": bool(data.password)},
        )
        return out


def _revoke_all_tokens(session: Session, user_id: uuid.UUID, rt: Runtime) -> None:
    now = rt.clock.now()
    for token in session.scalars(
        select(AccessToken).where(AccessToken.user_id == user_id, AccessToken.revoked_at.is_(None))
    ):
        token.revoked_at = now


USER_SORTS = {
    "username": User.username,
    "display_name": User.display_name,
    "created_at": User.created_at,
    "role": User.role,
    "active": User.active,
}


def list_users(
    rt: Runtime, *, actor: Actor, params: PageParams, role: str | None = None, q: str | None = None
) -> Page[UserOut]:
    actor.require(Perm.users_manage)
    with rt.db.read() as session:
        query: Select[Any] = select(User)
        if role:
            query = query.where(User.role == role)
        if q:
            like = contains(q)
            query = query.where(
                or_(
                    User.username.ilike(like, escape="\\"),
                    User.display_name.ilike(like, escape="\\"),
                )
            )
        query = order_by_sort(query, params.sort, USER_SORTS, "username")
        rows, total = paginate(session, query, params)
        items = [UserOut.model_validate(u) for u in rows]
    return Page(items=items, total=total, page=params.page, page_size=params.page_size)


def get_user(rt: Runtime, *, actor: Actor, user_id: uuid.UUID) -> UserOut:
    if actor.user_id != user_id:
        actor.require(Perm.users_manage)
    with rt.db.read() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("user", user_id)
        return UserOut.model_validate(user)


def get_user_ref(session: Session, user_id: uuid.UUID) -> UserRef | None:
    user = session.get(User, user_id)
    return UserRef.model_validate(user) if user else None


def get_user_by_username(session: Session, username: str) -> UserOut | None:
    user = session.scalar(select(User).where(User.username == username))
    return UserOut.model_validate(user) if user else None


_USER_REFS = "org.user_refs"


def users_by_ids(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, UserRef]:
    """Names and roles of users by id (for list endpoints); recently seen ones from memory."""
    refs = cached_map(session, _USER_REFS)
    found: dict[uuid.UUID, UserRef] = {}
    missing = set()
    for user_id in ids:
        ref = refs.get(user_id) if refs is not None else None
        if ref is None:
            missing.add(user_id)
        else:
            found[user_id] = ref
    if missing:
        for user in session.scalars(select(User).where(User.id.in_(missing))):
            found[user.id] = ref = UserRef.model_validate(user)
            if refs is not None:
                refs.put(user.id, ref)
    return found


def get_me(rt: Runtime, *, actor: Actor) -> Me:
    if actor.user_id is None:
        raise NotAuthenticated()
    with rt.db.read() as session:
        user = session.get(User, actor.user_id)
        if user is None:
            raise NotAuthenticated()
        department = session.get(Department, user.department_id) if user.department_id else None
        return Me(
            user=UserOut.model_validate(user),
            permissions=sorted(actor.permissions),
            area_path=actor.area_path,
            department=DepartmentRef.model_validate(department) if department else None,
        )


def login(rt: Runtime, *, username: str, password: str) -> TokenOut:
    """Check a password and issue an expiring bearer token."""
    with rt.db.transaction() as tx:
        user = tx.session.scalar(select(User).where(User.username == username))
        ok = verify_password(
            user.password_hash if user and user.password_hash else _DUMMY_HASH, password
        )
        if user is None or not ok or not user.active:
            raise NotAuthenticated("incorrect username or password")
        token = new_secret("cot")
        now = rt.clock.now()
        ttl = timedelta(minutes=rt.settings.token_ttl_minutes)
        tx.session.add(
            AccessToken(
                digest=digest_secret(token, rt.settings.secret_key),
                user_id=user.id,
                created_at=now,
                expires_at=now + ttl,
            )
        )
        record(
            tx.session,
            actor=actor_for_user(tx.session, user),
            action=events.USER_LOGGED_IN,
            subject_type="user",
            subject_id=user.id,
            at=now,
        )
    return TokenOut(access_token=token, expires_in=int(ttl.total_seconds()))


def logout(rt: Runtime, *, actor: Actor, token: str) -> None:
    """Revoke the token used for this request."""
    with rt.db.transaction() as tx:
        tx.after_commit(lambda: forget_credentials(rt))
        row = tx.session.scalar(
            select(AccessToken).where(
                AccessToken.digest == digest_secret(token, rt.settings.secret_key)
            )
        )
        if row is None or row.revoked_at is not None:
            return
        row.revoked_at = rt.clock.now()
        record(
            tx.session,
            actor=actor,
            action=events.USER_LOGGED_OUT,
            subject_type="user",
            subject_id=row.user_id,
            at=row.revoked_at,
        )


def actor_for_user(session: Session, user: User, *, via_api_key: bool = False) -> Actor:
    area_path = directory.areas(session).paths.get(user.area_id) if user.area_id else None
    return Actor(
        user_id=user.id,
        username=user.username,
        role=user.role,
        permissions=permissions_for(user.role),
        department_id=user.department_id,
        area_path=area_path,
        locale=user.locale,
        via_api_key=via_api_key,
        display_name=user.display_name,
    )


_CREDENTIALS = "org.credentials"


def _credentials(rt: Runtime) -> ExpiringMap[str, tuple[Actor, datetime | None]]:
    """Checked tokens and API keys: digest → (actor, token expiry)."""
    return rt.db.snapshots.map(_CREDENTIALS, ttl=rt.settings.token_cache_seconds)


def forget_credentials(rt: Runtime) -> None:
    """Drop every cached credential and user name (after a logout, an account change…)."""
    _credentials(rt).clear()
    rt.db.snapshots.map(_USER_REFS).clear()


def checked_actor(
    rt: Runtime, *, token: str | None = None, api_key: str | None = None
) -> Actor | None:
    """The actor behind a bearer token or an API key if this process checked it lately
    (within ``CITYOPS_TOKEN_CACHE_SECONDS``) and the token has not expired since; None when
    the database must be asked. No I/O: the web layer calls it on the event loop."""
    secret = token or api_key
    if not secret:
        return None
    return _cached(rt, digest_secret(secret, rt.settings.secret_key), expiring=token is not None)


def _cached(rt: Runtime, digest: str, *, expiring: bool) -> Actor | None:
    cached = _credentials(rt).get(digest)
    if cached is None:
        return None
    actor, expires_at = cached
    if expiring and (expires_at is None or expires_at <= rt.clock.now()):
        return None
    return actor


def actor_for_token(rt: Runtime, token: str) -> Actor:
    """The actor behind a bearer token; NotAuthenticated if unknown, expired or revoked."""
    digest = digest_secret(token, rt.settings.secret_key)
    actor = _cached(rt, digest, expiring=True)
    if actor is not None:
        return actor
    with rt.db.read() as session:
        row = session.execute(
            select(AccessToken, User)
            .join(User, User.id == AccessToken.user_id)
            .where(AccessToken.digest == digest)
        ).first()
        if row is None:
            raise NotAuthenticated("invalid token")
        access, user = row
        if access.revoked_at is not None or access.expires_at <= rt.clock.now():
            raise NotAuthenticated("token expired or revoked")
        if not user.active:
            raise NotAuthenticated("account disabled")
        actor, expires_at = actor_for_user(session, user), access.expires_at
    _credentials(rt).put(digest, (actor, expires_at))
    return actor


def actor_for_api_key(rt: Runtime, key: str) -> Actor:
    """The actor behind an integration API key."""
    digest = digest_secret(key, rt.settings.secret_key)
    actor = _cached(rt, digest, expiring=False)
    if actor is not None:
        return actor
    with rt.db.read() as session:
        row = session.execute(
            select(ApiKey, User)
            .join(User, User.id == ApiKey.user_id)
            .where(ApiKey.digest == digest)
        ).first()
        if row is None or row[0].revoked_at is not None or not row[1].active:
            raise NotAuthenticated("invalid API key")
        actor = actor_for_user(session, row[1], via_api_key=True)
    _credentials(rt).put(digest, (actor, None))
    return actor


def create_api_key(
    rt: Runtime, *, actor: Actor, data: ApiKeyIn, key: str | None = None
) -> ApiKeyCreated:
    """Issue an API key acting as ``data.username``; the key is shown once, only its digest kept."""
    actor.require(Perm.users_manage)
    key = key or new_secret("cok")
    with rt.db.transaction() as tx:
        owner = tx.session.scalar(select(User).where(User.username == data.username))
        if owner is None:
            raise invalid("username", text("unknown user {username!r}", username=data.username))
        if tx.session.scalar(
            select(ApiKey.id).where(ApiKey.user_id == owner.id, ApiKey.name == data.name)
        ):
            raise Conflict(
                text(
                    "{username} already has a key named {name!r}",
                    username=data.username,
                    name=data.name,
                ),
                code="duplicate",
            )
        row = ApiKey(
            name=data.name,
            prefix=key[:8],
            digest=digest_secret(key, rt.settings.secret_key),
            user_id=owner.id,
            created_at=rt.clock.now(),
        )
        tx.session.add(row)
        tx.session.flush()
        record(
            tx.session,
            actor=actor,
            action=events.API_KEY_CREATED,
            subject_type="api_key",
            subject_id=row.id,
            at=row.created_at,
            after={"name": data.name, "user": owner.username},
        )
        return ApiKeyCreated(key=key, api_key=ApiKeyOut.model_validate(row))


def list_api_keys(rt: Runtime, *, actor: Actor) -> list[ApiKeyOut]:
    actor.require(Perm.users_manage)
    with rt.db.read() as session:
        rows = session.scalars(select(ApiKey).order_by(ApiKey.created_at))
        return [ApiKeyOut.model_validate(r) for r in rows]


def revoke_api_key(rt: Runtime, *, actor: Actor, key_id: uuid.UUID) -> ApiKeyOut:
    actor.require(Perm.users_manage)
    with rt.db.transaction() as tx:
        tx.after_commit(lambda: forget_credentials(rt))
        row = tx.session.get(ApiKey, key_id)
        if row is None:
            raise NotFound("API key", key_id)
        if row.revoked_at is None:
            row.revoked_at = rt.clock.now()
            record(
                tx.session,
                actor=actor,
                action=events.API_KEY_REVOKED,
                subject_type="api_key",
                subject_id=row.id,
                at=row.revoked_at,
            )
        return ApiKeyOut.model_validate(row)


def ensure_not_self_demotion(actor: Actor, user_id: uuid.UUID, data: UserUpdate) -> None:
    """An admin cannot lock themself out by removing their own admin role or disabling themself."""
    if actor.user_id == user_id and (data.active is False or (data.role and data.role != "admin")):
        raise PermissionDenied("you cannot disable or demote your own account")
