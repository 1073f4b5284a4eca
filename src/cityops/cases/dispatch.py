"""Routing: which department must handle a case of a category at a place.

An explicit route (category + area → department) wins, the most specific area first;
otherwise the department of the category's kind whose jurisdiction contains the place.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from cityops.cases.directory import CategoryInfo, RouteInfo, categories
from cityops.cases.schemas import Suggestion
from cityops.org import service as org
from cityops.org.schemas import DepartmentRef


def suggest_department(
    session: Session, category: CategoryInfo | None, area_path: str
) -> Suggestion:
    """The responsible department for ``category`` at ``area_path``, with the rule used."""
    if category is None:
        return Suggestion(department=None, rule="none", explanation="case has no category yet")
    route = _best_route(session, category, area_path)
    if route is not None:
        refs = org.department_refs(session, [route.department_id])
        return Suggestion(
            department=refs.get(route.department_id),
            rule="route",
            explanation=f"route for {category.code} in {route.area_path}",
        )
    kind = category.department_kind or _parent_kind(session, category)
    if kind:
        found = org.find_department(session, kind=kind, path=area_path)
        if found is not None:
            return Suggestion(
                department=DepartmentRef.model_validate(found),
                rule="kind",
                explanation=f"{kind} department covering {area_path}",
            )
    return Suggestion(
        department=None,
        rule="none",
        explanation=f"no department for {category.code} covers {area_path}",
    )


def _best_route(session: Session, category: CategoryInfo, area_path: str) -> RouteInfo | None:
    routes = categories(session).routes
    candidates = [*routes.get(category.id, [])]
    if category.parent_id:
        candidates += routes.get(category.parent_id, [])
    matching = [r for r in candidates if (area_path + "/").startswith(r.area_path + "/")]
    # Most specific area first; a route of the leaf beats one of its group at the same depth.
    matching.sort(key=lambda r: (len(r.area_path), r.category_id == category.id), reverse=True)
    return matching[0] if matching else None


def _parent_kind(session: Session, category: CategoryInfo) -> str | None:
    if category.parent_id is None:
        return None
    parent = categories(session).by_id.get(category.parent_id)
    return parent.department_kind if parent else None
