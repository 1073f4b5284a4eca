"""The default category catalogue: the shipped data and validation of broken input."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest

from cityops.cases.catalogue import (
    CODE_PREFIXES,
    KINDS,
    PRIORITIES,
    Catalogue,
    CategorySeed,
    load_default_catalogue,
    validate_catalogue,
)

_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_default_catalogue()


def _entries(catalogue: Catalogue) -> list[CategorySeed]:
    return [*catalogue.groups, *catalogue.leaves]


# --- the shipped catalogue ---------------------------------------------------------------


def test_shipped_catalogue_has_the_intended_size(catalogue: Catalogue) -> None:
    assert 15 <= len(catalogue.groups) <= 20
    assert 90 <= len(catalogue.leaves) <= 140
    assert all(catalogue.children(group.code) for group in catalogue.groups)


def test_every_entry_is_named_in_chinese_and_english(catalogue: Catalogue) -> None:
    for seed in _entries(catalogue):
        assert _CJK.search(seed.name_zh), seed.code
        assert _LATIN.search(seed.name_en), seed.code
        assert not _CJK.search(seed.name_en), seed.code
    for department in catalogue.departments.values():
        assert _CJK.search(department.name_zh), department.code
        assert _LATIN.search(department.name_en), department.code


def test_codes_are_unique(catalogue: Catalogue) -> None:
    codes = [seed.code for seed in _entries(catalogue)]
    assert len(codes) == len(set(codes))


def test_every_leaf_routes_to_a_declared_department_kind(catalogue: Catalogue) -> None:
    for leaf in catalogue.leaves:
        assert leaf.department_kind in catalogue.departments, leaf.code
    used = {leaf.department_kind for leaf in catalogue.leaves}
    assert used == set(catalogue.departments), "every declared department kind is used"


def test_leaves_sit_under_a_group_of_the_same_kind(catalogue: Catalogue) -> None:
    for leaf in catalogue.leaves:
        assert leaf.is_leaf
        assert leaf.parent_code is not None
        parent = catalogue.by_code(leaf.parent_code)
        assert not parent.is_leaf
        assert parent.kind == leaf.kind
        assert leaf.code.startswith(parent.code + "-")
        assert leaf.code.startswith(CODE_PREFIXES[leaf.kind])


def test_all_three_kinds_are_present(catalogue: Catalogue) -> None:
    assert {group.kind for group in catalogue.groups} == set(KINDS)


def test_groups_carry_no_routing_or_time_limits(catalogue: Catalogue) -> None:
    for group in catalogue.groups:
        assert group.parent_code is None
        assert group.department_kind is None
        assert group.handle_hours is None
        assert group.priority is None
        assert group.keywords_zh == ()


def test_leaves_have_usable_time_limits_priority_and_keywords(catalogue: Catalogue) -> None:
    for leaf in catalogue.leaves:
        assert leaf.register_hours is not None
        assert leaf.dispatch_hours is not None
        assert leaf.handle_hours is not None
        assert 0 < leaf.register_hours <= leaf.handle_hours, leaf.code
        assert 0 < leaf.dispatch_hours <= leaf.handle_hours, leaf.code
        assert leaf.priority in PRIORITIES, leaf.code
        assert 3 <= len(leaf.keywords_zh) <= 8, leaf.code
        assert all(_CJK.search(word) for word in leaf.keywords_zh), leaf.code


def test_urgent_categories_have_short_limits(catalogue: Catalogue) -> None:
    urgent = [leaf for leaf in catalogue.leaves if leaf.priority == "urgent"]
    assert urgent
    for leaf in urgent:
        assert leaf.register_hours is not None
        assert leaf.handle_hours is not None
        assert leaf.register_hours <= 0.5, leaf.code
        assert leaf.handle_hours <= 8, leaf.code
    slowest_urgent = max(leaf.handle_hours or 0 for leaf in urgent)
    appeals = [leaf for leaf in catalogue.leaves if leaf.kind == "appeal"]
    assert all((leaf.handle_hours or 0) > slowest_urgent for leaf in appeals)


@pytest.mark.parametrize(
    ("code", "name_zh", "kind", "department", "priority"),
    [
        ("B-01-01", "上水井盖", "component", "shuiwu", "high"),
        ("E-01-02", "暴露垃圾", "event", "chengguan", "normal"),
        ("E-02-01", "非法小广告", "event", "chengguan", "normal"),
        ("E-04-01", "路面塌陷", "event", "shizheng", "urgent"),
        ("E-04-03", "燃气管道破裂", "event", "ranqi", "urgent"),
        ("E-05-21", "占道经营", "event", "chengguan", "normal"),
        ("A-01-01", "噪声扰民", "appeal", "huanbao", "normal"),
        ("A-06-01", "拖欠工资", "appeal", "renshe", "normal"),
    ],
)
def test_known_entries(
    catalogue: Catalogue, code: str, name_zh: str, kind: str, department: str, priority: str
) -> None:
    seed = catalogue.by_code(code)
    assert (seed.name_zh, seed.kind, seed.department_kind, seed.priority) == (
        name_zh,
        kind,
        department,
        priority,
    )


def test_manhole_covers_are_components(catalogue: Catalogue) -> None:
    covers = [leaf for leaf in catalogue.leaves if "井盖" in leaf.name_zh]
    assert len(covers) >= 3
    assert all(leaf.kind == "component" and "井盖" in leaf.keywords_zh for leaf in covers)


def test_by_code_rejects_unknown_codes(catalogue: Catalogue) -> None:
    with pytest.raises(KeyError, match="Z-99"):
        catalogue.by_code("Z-99")


def test_children_lists_the_leaves_of_a_group(catalogue: Catalogue) -> None:
    names = [leaf.name_zh for leaf in catalogue.children("E-04")]
    assert "燃气管道破裂" in names
    assert catalogue.children("E-04-03") == ()


def test_loader_matches_the_packaged_json(catalogue: Catalogue) -> None:
    text = resources.files("cityops.cases").joinpath("data", "categories.json").read_text("utf-8")
    assert validate_catalogue(json.loads(text)) == catalogue


# --- validation of broken input ------------------------------------------------------------


def _leaf(code: str, name_zh: str) -> dict[str, Any]:
    return {
        "code": code,
        "name_zh": name_zh,
        "name_en": "Some category",
        "kind": "event",
        "department": "chengguan",
        "sla": {"register_hours": 2, "dispatch_hours": 2, "handle_hours": 24},
        "priority": "normal",
        "keywords_zh": ["垃圾", "脏"],
    }


def _valid_raw() -> dict[str, Any]:
    return {
        "version": 1,
        "departments": {"chengguan": {"name_zh": "城市管理局", "name_en": "Urban Management"}},
        "groups": [
            {
                "code": "E-01",
                "name_zh": "市容环境",
                "name_en": "City appearance",
                "kind": "event",
                "leaves": [_leaf("E-01-02", "暴露垃圾"), _leaf("E-01-03", "积存垃圾渣土")],
            }
        ],
    }


def _first_leaf(raw: dict[str, Any]) -> dict[str, Any]:
    leaf: dict[str, Any] = raw["groups"][0]["leaves"][0]
    return leaf


def _set_leaf(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        _first_leaf(raw)[key] = value

    return mutate


def _set_sla(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        _first_leaf(raw)["sla"][key] = value

    return mutate


def _drop_leaf_key(key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        del _first_leaf(raw)[key]

    return mutate


def _set_group(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        raw["groups"][0][key] = value

    return mutate


def _duplicate_code(raw: dict[str, Any]) -> None:
    raw["groups"][0]["leaves"][1]["code"] = "E-01-02"


def _department_without_english(raw: dict[str, Any]) -> None:
    del raw["departments"]["chengguan"]["name_en"]


def _no_groups(raw: dict[str, Any]) -> None:
    raw["groups"] = []


def test_the_minimal_catalogue_used_below_is_valid() -> None:
    catalogue = validate_catalogue(_valid_raw())
    assert [leaf.code for leaf in catalogue.leaves] == ["E-01-02", "E-01-03"]
    assert catalogue.by_code("E-01-02").register_hours == 2.0


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(_duplicate_code, r"E-01-02 .*duplicate code", id="duplicate-code"),
        pytest.param(
            _set_leaf("department", "nowhere"), r"E-01-02 .*'nowhere'", id="unknown-department"
        ),
        pytest.param(_drop_leaf_key("department"), r"E-01-02 .*'department'", id="no-department"),
        pytest.param(_set_sla("handle_hours", 0), r"E-01-02 .*handle_hours", id="zero-hours"),
        pytest.param(
            _set_sla("register_hours", -1), r"E-01-02 .*register_hours", id="negative-hours"
        ),
        pytest.param(_set_sla("dispatch_hours", "2"), r"E-01-02 .*dispatch_hours", id="text-hours"),
        pytest.param(
            _set_sla("dispatch_hours", True), r"E-01-02 .*dispatch_hours", id="bool-hours"
        ),
        pytest.param(
            _set_sla("handle_hours", float("nan")), r"E-01-02 .*handle_hours", id="nan-hours"
        ),
        pytest.param(_drop_leaf_key("sla"), r"E-01-02 .*'sla'", id="no-sla"),
        pytest.param(_set_leaf("kind", "incident"), r"E-01-02 .*'incident'", id="bad-leaf-kind"),
        pytest.param(_set_group("kind", "thing"), r"E-01 .*'thing'", id="bad-group-kind"),
        pytest.param(
            _set_leaf("code", "A-01-02"), r"A-01-02 .*must start with 'E-'", id="kind-prefix"
        ),
        pytest.param(_set_leaf("code", "E-02-01"), r"E-02-01 .*group code", id="wrong-group"),
        pytest.param(_set_leaf("priority", "asap"), r"E-01-02 .*'asap'", id="bad-priority"),
        pytest.param(_drop_leaf_key("name_en"), r"E-01-02 .*'name_en'", id="no-english-name"),
        pytest.param(_set_leaf("name_zh", "  "), r"E-01-02.*'name_zh'", id="blank-chinese-name"),
        pytest.param(_set_leaf("keywords_zh", []), r"E-01-02 .*keywords_zh", id="no-keywords"),
        pytest.param(
            _set_leaf("keywords_zh", ["垃圾", "垃圾"]), r"E-01-02 .*duplicates", id="dup-keywords"
        ),
        pytest.param(_set_leaf("keyword_zh", ["垃圾"]), r"E-01-02 .*'keyword_zh'", id="typo-field"),
        pytest.param(_drop_leaf_key("code"), r"groups\[0\]\.leaves\[0\]", id="no-code"),
        pytest.param(_department_without_english, r"department 'chengguan'", id="department"),
        pytest.param(_no_groups, r"'groups'", id="no-groups"),
    ],
)
def test_broken_input_raises_a_value_error_naming_the_entry(
    mutate: Callable[[dict[str, Any]], None], message: str
) -> None:
    raw = _valid_raw()
    mutate(raw)
    with pytest.raises(ValueError, match=message):
        validate_catalogue(raw)


def test_the_kind_of_a_leaf_must_match_its_group() -> None:
    raw = _valid_raw()
    leaf = _first_leaf(raw)
    leaf["kind"] = "component"
    leaf["code"] = "B-01-02"
    with pytest.raises(ValueError, match=r"B-01-02 .*differs from its group E-01"):
        validate_catalogue(raw)


def test_a_non_object_document_is_rejected() -> None:
    with pytest.raises(ValueError, match="expected an object"):
        validate_catalogue([])  # type: ignore[arg-type]
