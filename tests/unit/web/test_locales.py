"""The front end's string catalogues: every part has both locales, with the same keys, no empty
strings, and no section defined by two parts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

LOCALES_DIR = Path(__file__).parents[3] / "frontend" / "src" / "locales"
LOCALES = ("zh-CN", "en")
PARTS = sorted(path.name for path in LOCALES_DIR.iterdir() if path.is_dir())


def keys(tree: object, prefix: str = "") -> set[str]:
    if not isinstance(tree, dict):
        return {prefix}
    paths = (keys(value, f"{prefix}.{name}" if prefix else name) for name, value in tree.items())
    return set().union(*paths)


def leaves(tree: object) -> list[object]:
    if isinstance(tree, dict):
        return [leaf for value in tree.values() for leaf in leaves(value)]
    return [tree]


def catalogue(part: str, locale: str) -> dict[str, object]:
    loaded = json.loads((LOCALES_DIR / part / f"{locale}.json").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_there_are_parts() -> None:
    assert "common" in PARTS


@pytest.mark.parametrize("part", PARTS)
def test_each_part_has_the_same_keys_in_both_locales(part: str) -> None:
    zh, en = (catalogue(part, locale) for locale in LOCALES)
    assert keys(zh) == keys(en), sorted(keys(zh) ^ keys(en))


@pytest.mark.parametrize("part", PARTS)
@pytest.mark.parametrize("locale", LOCALES)
def test_no_string_is_empty(part: str, locale: str) -> None:
    for leaf in leaves(catalogue(part, locale)):
        assert isinstance(leaf, str), (part, locale, leaf)
        assert leaf.strip(), (part, locale, leaf)


@pytest.mark.parametrize("locale", LOCALES)
def test_no_section_is_defined_by_two_parts(locale: str) -> None:
    owners: dict[str, str] = {}
    for part in PARTS:
        for section in catalogue(part, locale):
            assert section not in owners, f"{section} is in both {owners.get(section)} and {part}"
            owners[section] = part
