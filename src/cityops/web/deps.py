"""FastAPI dependencies, defined once: the runtime, the acting user, pagination."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool

from cityops.core.auth import Actor
from cityops.core.errors import NotAuthenticated
from cityops.core.i18n import Catalogue, Catalogues
from cityops.core.pagination import MAX_PAGE_SIZE, PageParams
from cityops.core.runtime import Runtime
from cityops.org import service as org

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
API_KEY_HEADER = "X-API-Key"


def catalogue(request: Request, locale: str) -> Catalogue:
    """The messages of ``locale`` (English for one not shipped), loaded once at start."""
    catalogues: Catalogues = request.app.state.catalogues
    return catalogues[locale]


async def get_runtime(request: Request) -> Runtime:
    runtime = request.app.state.runtime
    assert isinstance(runtime, Runtime)
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def current_actor(
    request: Request, rt: RuntimeDep, token: Annotated[str | None, Depends(oauth2)]
) -> Actor:
    """The user behind the bearer token or the X-API-Key header: from this process's
    credentials cache on the event loop, else checked in the database on a request thread."""
    if token:
        actor = org.checked_actor(rt, token=token)
        if actor is None:
            actor = await run_in_threadpool(org.actor_for_token, rt, token)
        return actor
    api_key = request.headers.get(API_KEY_HEADER)
    if api_key:
        actor = org.checked_actor(rt, api_key=api_key)
        if actor is None:
            actor = await run_in_threadpool(org.actor_for_api_key, rt, api_key)
        return actor
    raise NotAuthenticated()


CurrentActor = Annotated[Actor, Depends(current_actor)]
BearerToken = Annotated[str | None, Depends(oauth2)]


async def page_params(
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    sort: Annotated[str | None, Query(max_length=200)] = None,
) -> PageParams:
    return PageParams(page=page, page_size=page_size, sort=sort)


Paging = Annotated[PageParams, Depends(page_params)]
