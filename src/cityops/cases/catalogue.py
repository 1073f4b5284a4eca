"""The default category catalogue (事件类型) that ships with the product.

Pure loader: it reads ``data/categories.json`` from the installed package with
:mod:`importlib.resources`, validates it and returns immutable seeds. It never
touches the database; seeding tables from these values is the caller's job.

The catalogue has two levels. Top-level groups follow GB/T 30428.2 (部件
components ``B-..``, 事件 events ``E-..``) plus common 12345 hotline appeal
types (``A-..``); each group holds leaf categories that carry the responsible
department kind, the working-hour time limits and matching keywords.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any

__all__ = [
    "CODE_PREFIXES",
    "KINDS",
    "PRIORITIES",
    "Catalogue",
    "CategorySeed",
    "DepartmentKind",
    "load_default_catalogue",
    "validate_catalogue",
]

KINDS: tuple[str, ...] = ("component", "event", "appeal")
PRIORITIES: tuple[str, ...] = ("urgent", "high", "normal")
CODE_PREFIXES: Mapping[str, str] = MappingProxyType(
    {"component": "B-", "event": "E-", "appeal": "A-"}
)
SLA_FIELDS: tuple[str, ...] = ("register_hours", "dispatch_hours", "handle_hours")

_TOP_KEYS = frozenset({"version", "standard", "notes", "departments", "groups"})
_NAME_KEYS = ("code", "name_zh", "name_en", "kind")
_GROUP_KEYS = frozenset({*_NAME_KEYS, "leaves", "duplicate"})
_DUPLICATE_KEYS = frozenset({"radius_m", "window_hours"})
# Duplicate search of a group without its own "duplicate" entry (docs/duplicates.md).
DEFAULT_DUPLICATE_RADIUS_M = 150.0
DEFAULT_DUPLICATE_WINDOW_HOURS = 72.0
_LEAF_KEYS = frozenset({*_NAME_KEYS, "department", "sla", "priority", "keywords_zh"})
_DEPARTMENT_KEYS = frozenset({"name_zh", "name_en"})

_PACKAGE = "cityops.cases"
_RESOURCE = ("data", "categories.json")


@dataclass(frozen=True)
class DepartmentKind:
    """A kind of responsible department (城管, 住建 …), not a concrete organisation unit."""

    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class CategorySeed:
    """One catalogue entry: a top-level group or a leaf category.

    Groups have ``parent_code``, ``department_kind``, the hour limits and
    ``priority`` set to ``None`` and no keywords; leaves have all of them.
    Hours are working hours for the register, dispatch and handle stages.
    """

    code: str
    name_zh: str
    name_en: str
    kind: str
    parent_code: str | None = None
    department_kind: str | None = None
    register_hours: float | None = None
    dispatch_hours: float | None = None
    handle_hours: float | None = None
    priority: str | None = None
    keywords_zh: tuple[str, ...] = ()
    duplicate_radius_m: float = DEFAULT_DUPLICATE_RADIUS_M
    duplicate_window_hours: float = DEFAULT_DUPLICATE_WINDOW_HOURS

    @property
    def is_leaf(self) -> bool:
        """True for a leaf category, False for a top-level group."""
        return self.parent_code is not None


@dataclass(frozen=True)
class Catalogue:
    """The validated catalogue: groups, leaves and the department kinds they route to."""

    groups: tuple[CategorySeed, ...]
    leaves: tuple[CategorySeed, ...]
    departments: Mapping[str, DepartmentKind]
    _index: Mapping[str, CategorySeed] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {seed.code: seed for seed in (*self.groups, *self.leaves)}
        object.__setattr__(self, "_index", MappingProxyType(index))

    def by_code(self, code: str) -> CategorySeed:
        """Return the group or leaf with ``code``; raise ``KeyError`` if there is none."""
        try:
            return self._index[code]
        except KeyError:
            raise KeyError(f"no category with code {code!r}") from None

    def children(self, group_code: str) -> tuple[CategorySeed, ...]:
        """Return the leaves of the group ``group_code``, in catalogue order."""
        return tuple(leaf for leaf in self.leaves if leaf.parent_code == group_code)


def load_default_catalogue() -> Catalogue:
    """Read, validate and return the catalogue shipped inside the ``cityops`` package."""
    resource = resources.files(_PACKAGE).joinpath(*_RESOURCE)
    text = resource.read_text(encoding="utf-8")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"categories.json is not valid JSON: {exc}") from exc
    return validate_catalogue(raw)


def validate_catalogue(raw: dict[str, Any]) -> Catalogue:
    """Validate the decoded JSON document ``raw`` and build a :class:`Catalogue`.

    Raises ``ValueError`` naming the offending entry (by code where it has one,
    otherwise by position) for the first problem found.
    """
    top = _require_mapping(raw, "catalogue")
    _reject_unknown_keys(top, _TOP_KEYS, "catalogue")
    departments = _parse_departments(top.get("departments"))
    groups_raw = top.get("groups")
    if not isinstance(groups_raw, list) or not groups_raw:
        raise ValueError("catalogue: 'groups' must be a non-empty list")
    groups: list[CategorySeed] = []
    leaves: list[CategorySeed] = []
    for position, group_raw in enumerate(groups_raw):
        group, group_leaves = _parse_group(group_raw, f"groups[{position}]", departments)
        groups.append(group)
        leaves.extend(group_leaves)
    _check_unique_codes([*groups, *leaves])
    return Catalogue(groups=tuple(groups), leaves=tuple(leaves), departments=departments)


def _parse_departments(raw: Any) -> Mapping[str, DepartmentKind]:
    """Parse the ``departments`` object into department kinds keyed by code."""
    table = _require_mapping(raw, "catalogue 'departments'")
    if not table:
        raise ValueError("catalogue: 'departments' must not be empty")
    parsed: dict[str, DepartmentKind] = {}
    for code, entry_raw in table.items():
        label = f"department {code!r}"
        if not isinstance(code, str) or not code.strip():
            raise ValueError(f"{label}: the code must be a non-empty string")
        entry = _require_mapping(entry_raw, label)
        _reject_unknown_keys(entry, _DEPARTMENT_KEYS, label)
        parsed[code] = DepartmentKind(
            code=code,
            name_zh=_require_text(entry, "name_zh", label),
            name_en=_require_text(entry, "name_en", label),
        )
    return MappingProxyType(parsed)


def _parse_group(
    raw: Any, position: str, departments: Mapping[str, DepartmentKind]
) -> tuple[CategorySeed, list[CategorySeed]]:
    """Parse one top-level group and its leaves."""
    entry = _require_mapping(raw, position)
    label = _label(entry, position)
    _reject_unknown_keys(entry, _GROUP_KEYS, label)
    code, name_zh, name_en, kind = _parse_names(entry, label)
    radius, window = _parse_duplicate(entry.get("duplicate"), label)
    group = CategorySeed(
        code=code,
        name_zh=name_zh,
        name_en=name_en,
        kind=kind,
        duplicate_radius_m=radius,
        duplicate_window_hours=window,
    )
    leaves_raw = entry.get("leaves")
    if not isinstance(leaves_raw, list) or not leaves_raw:
        raise ValueError(f"{label}: 'leaves' must be a non-empty list")
    leaves = [
        _parse_leaf(leaf_raw, f"{position}.leaves[{index}]", group, departments)
        for index, leaf_raw in enumerate(leaves_raw)
    ]
    return group, leaves


def _parse_leaf(
    raw: Any, position: str, group: CategorySeed, departments: Mapping[str, DepartmentKind]
) -> CategorySeed:
    """Parse one leaf category of ``group``."""
    entry = _require_mapping(raw, position)
    label = _label(entry, position)
    _reject_unknown_keys(entry, _LEAF_KEYS, label)
    code, name_zh, name_en, kind = _parse_names(entry, label)
    if kind != group.kind:
        raise ValueError(
            f"{label}: kind {kind!r} differs from its group {group.code} ({group.kind})"
        )
    if not code.startswith(f"{group.code}-"):
        raise ValueError(f"{label}: code must start with its group code {group.code + '-'!r}")
    register, dispatch, handle = _parse_sla(entry.get("sla"), label)
    return CategorySeed(
        code=code,
        name_zh=name_zh,
        name_en=name_en,
        kind=kind,
        parent_code=group.code,
        department_kind=_parse_department_ref(entry, label, departments),
        register_hours=register,
        dispatch_hours=dispatch,
        handle_hours=handle,
        priority=_parse_priority(entry, label),
        keywords_zh=_parse_keywords(entry, label),
        duplicate_radius_m=group.duplicate_radius_m,
        duplicate_window_hours=group.duplicate_window_hours,
    )


def _parse_duplicate(raw: Any, label: str) -> tuple[float, float]:
    """A group's duplicate search: radius in metres (10-2000) and window in hours (1-720)."""
    if raw is None:
        return DEFAULT_DUPLICATE_RADIUS_M, DEFAULT_DUPLICATE_WINDOW_HOURS
    entry = _require_mapping(raw, f"{label}.duplicate")
    _reject_unknown_keys(entry, _DUPLICATE_KEYS, f"{label}.duplicate")
    radius, window = entry.get("radius_m"), entry.get("window_hours")
    for name, value, low, high in (
        ("radius_m", radius, 10, 2000),
        ("window_hours", window, 1, 720),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise ValueError(f"{label}: duplicate.{name} must be a number from {low} to {high}")
    return float(radius), float(window)  # type: ignore[arg-type]


def _parse_names(entry: Mapping[str, Any], label: str) -> tuple[str, str, str, str]:
    """Return code, both names and kind, checking the kind and its code prefix."""
    code = _require_text(entry, "code", label)
    name_zh = _require_text(entry, "name_zh", label)
    name_en = _require_text(entry, "name_en", label)
    kind = entry.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{label}: kind {kind!r} is not one of {', '.join(KINDS)}")
    prefix = CODE_PREFIXES[kind]
    if not code.startswith(prefix):
        raise ValueError(f"{label}: {kind} codes must start with {prefix!r}")
    return code, name_zh, name_en, kind


def _parse_department_ref(
    entry: Mapping[str, Any], label: str, departments: Mapping[str, DepartmentKind]
) -> str:
    """Return the leaf's department kind, which must be declared in ``departments``."""
    department = _require_text(entry, "department", label)
    if department not in departments:
        raise ValueError(f"{label}: department kind {department!r} is not in 'departments'")
    return department


def _parse_sla(raw: Any, label: str) -> tuple[float, float, float]:
    """Return the register, dispatch and handle hours, each finite and positive."""
    sla = _require_mapping(raw, f"{label} 'sla'")
    _reject_unknown_keys(sla, frozenset(SLA_FIELDS), f"{label} 'sla'")
    register, dispatch, handle = (
        _positive_hours(sla.get(name), name, label) for name in SLA_FIELDS
    )
    return register, dispatch, handle


def _positive_hours(value: object, name: str, label: str) -> float:
    """Return ``value`` as float if it is a finite number of hours above zero."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        hours = float(value)
        if math.isfinite(hours) and hours > 0:
            return hours
    raise ValueError(f"{label}: sla {name} must be a positive number of hours, got {value!r}")


def _parse_priority(entry: Mapping[str, Any], label: str) -> str:
    """Return the leaf priority, one of :data:`PRIORITIES`."""
    priority = entry.get("priority")
    if priority not in PRIORITIES:
        raise ValueError(f"{label}: priority {priority!r} is not one of {', '.join(PRIORITIES)}")
    return str(priority)


def _parse_keywords(entry: Mapping[str, Any], label: str) -> tuple[str, ...]:
    """Return the matching keywords: a non-empty list of distinct non-blank strings."""
    keywords = entry.get("keywords_zh")
    if not isinstance(keywords, list) or not keywords:
        raise ValueError(f"{label}: 'keywords_zh' must be a non-empty list of strings")
    if not all(isinstance(word, str) and word.strip() for word in keywords):
        raise ValueError(f"{label}: every keyword in 'keywords_zh' must be a non-blank string")
    if len(set(keywords)) != len(keywords):
        raise ValueError(f"{label}: 'keywords_zh' contains duplicates")
    return tuple(keywords)


def _check_unique_codes(seeds: list[CategorySeed]) -> None:
    """Raise if two entries share a code."""
    seen: dict[str, CategorySeed] = {}
    for seed in seeds:
        other = seen.get(seed.code)
        if other is not None:
            raise ValueError(
                f"category {seed.code} ({seed.name_zh}): duplicate code, already used by "
                f"{other.name_zh}"
            )
        seen[seed.code] = seed


def _label(entry: Mapping[str, Any], position: str) -> str:
    """Name an entry in messages: by its code and Chinese name when present, else by position."""
    code = entry.get("code")
    if not isinstance(code, str) or not code.strip():
        return position
    name = entry.get("name_zh")
    return f"category {code} ({name})" if isinstance(name, str) and name else f"category {code}"


def _require_mapping(value: Any, label: str) -> Mapping[str, Any]:
    """Return ``value`` if it is a JSON object, else raise naming ``label``."""
    if not isinstance(value, dict):
        raise ValueError(f"{label}: expected an object, got {type(value).__name__}")
    return value


def _require_text(entry: Mapping[str, Any], key: str, label: str) -> str:
    """Return the non-blank string at ``key``, else raise naming ``label``."""
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{label}: '{key}' must be a non-blank string, got {value!r}")
    return value


def _reject_unknown_keys(entry: Mapping[str, Any], allowed: frozenset[str], label: str) -> None:
    """Raise if ``entry`` has keys outside ``allowed`` (catches typos in the data file)."""
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ValueError(f"{label}: unknown field(s) {', '.join(map(repr, unknown))}")
