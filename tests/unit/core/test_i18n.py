"""Messages in the caller's language: the Text type, the catalogues, the choice of locale, and
that every message the code can answer with has its Chinese translation."""

from __future__ import annotations

import ast
import copy
import json
import pickle
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

import cityops
from cityops.core.errors import InvalidTransition, NotFound, ValidationFailed, invalid
from cityops.core.i18n import (
    CHINESE,
    ENGLISH,
    Catalogue,
    Catalogues,
    pick_locale,
    text,
)
from factories.i18n import ZH

PACKAGE = Path(cityops.__file__).parent

# Calls whose argument at this position (or keyword) is a message a caller reads.
MESSAGE_ARGS: dict[str, tuple[int, str]] = {
    "invalid": (1, "message"),
    "FieldError": (1, "message"),
    "duplicate": (1, "message"),
    "PermissionDenied": (0, "message"),
    "Conflict": (0, "message"),
    "PayloadTooLarge": (0, "message"),
    "NotAuthenticated": (0, "message"),
    "ValidationFailed": (-1, "message"),
}


def _name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _message_arg(call: ast.Call) -> ast.expr | None:
    position, keyword = MESSAGE_ARGS[_name(call)]
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[position] if 0 <= position < len(call.args) else None


def _uses_text(tree: ast.AST) -> bool:
    """Whether ``text`` is this module's message maker (and not, say, SQLAlchemy's)."""
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "cityops.core.i18n"
        and any(alias.name == "text" and alias.asname is None for alias in node.names)
        for node in ast.walk(tree)
    )


def _messages(tree: ast.AST) -> Iterator[tuple[int, str, ast.expr]]:
    """(line, kind, node): literal messages, text() templates, NotFound subjects and the
    messages of ValueErrors raised in request schemas."""
    uses_text = _uses_text(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node)
        if name == "text" and node.args and uses_text:
            yield node.lineno, "template", node.args[0]
        elif name in MESSAGE_ARGS:
            arg = _message_arg(node)
            if arg is not None:
                yield node.lineno, "message", arg
        elif name == "NotFound" and node.args:
            yield node.lineno, "term", node.args[0]


def _schema_value_errors(tree: ast.AST) -> Iterator[tuple[int, str, ast.expr]]:
    for node in ast.walk(tree):
        raised = node.exc if isinstance(node, ast.Raise) else None
        if isinstance(raised, ast.Call) and _name(raised) == "ValueError" and raised.args:
            yield node.lineno, "message", raised.args[0]


def _sources() -> Iterator[tuple[Path, ast.AST]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        yield path, tree


def _problems() -> Iterator[str]:
    for path, tree in _sources():
        where = path.relative_to(PACKAGE)
        found = list(_messages(tree))
        if path.name == "schemas.py":
            found += list(_schema_value_errors(tree))
        for line, kind, node in found:
            if isinstance(node, ast.JoinedStr):
                yield f"{where}:{line}: an f-string message; write text(template, **values)"
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if kind == "term" and node.value not in ZH.terms:
                    yield f"{where}:{line}: no zh-CN term for {node.value!r}"
                elif kind != "term" and node.value not in ZH.messages:
                    yield f"{where}:{line}: no zh-CN translation of {node.value!r}"


def test_every_message_the_code_answers_with_has_a_chinese_translation() -> None:
    problems = list(_problems())
    assert not problems, "\n".join(problems)


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_translations_use_only_the_values_their_english_template_has() -> None:
    wrong = {
        english: said
        for english, said in ZH.messages.items()
        if not english.startswith("pydantic.") and not _fields(said) <= _fields(english)
    }
    assert not wrong


def test_a_text_is_its_english_rendering_and_keeps_its_template() -> None:
    said = text("unknown area {code!r}", code="430105")
    assert said == "unknown area '430105'"
    assert isinstance(said, str)
    assert (said.template, said.params) == ("unknown area {code!r}", {"code": "430105"})
    assert pickle.loads(pickle.dumps(said)) == said  # noqa: S301 (our own bytes)
    assert copy.deepcopy(said) == said


def test_a_catalogue_says_templates_plain_messages_and_terms() -> None:
    catalogue = Catalogue(
        "zh-CN",
        messages={
            "unknown area {code!r}": "未知区域 {code!r}",
            "is required": "必填",
            "cannot {action!t} a case in state {state!r}": "{state!t}的案件不能{action!t}",
        },
        terms={"registered": "已立案", "dispatch": "派单"},
    )
    assert catalogue.say(text("unknown area {code!r}", code="x")) == "未知区域 'x'"
    assert catalogue.say("is required") == "必填"
    assert catalogue.say("no translation") == "no translation"
    assert catalogue.say(text("no {thing}", thing="x")) == "no x"
    transition = text(
        "cannot {action!t} a case in state {state!r}", action="dispatch", state="registered"
    )
    assert transition == "cannot dispatch a case in state 'registered'"
    assert catalogue.say(transition) == "已立案的案件不能派单"


def test_the_kernel_errors_carry_their_templates() -> None:
    assert ZH.say(NotFound("case", "C-1").message) == f"{ZH.term('case')} C-1 不存在"
    transition = InvalidTransition("dispatch", "closed")
    assert "'closed'" in transition.message
    assert ZH.term("closed") in ZH.say(transition.message)
    error = ValidationFailed(invalid("rating", "must be between 1 and 5").fields[0])
    assert error.summarises_fields
    assert not ValidationFailed(message="whole").summarises_fields


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        (None, ENGLISH),
        ("", ENGLISH),
        ("zh-CN,zh;q=0.9,en;q=0.8", CHINESE),
        ("zh", CHINESE),
        ("zh-Hans-CN", CHINESE),
        ("en-US,en;q=0.9,zh-CN;q=0.8", ENGLISH),
        ("fr-FR, zh;q=0.5", CHINESE),
        ("de", ENGLISH),
        ("zh;q=0.2, en;q=0.7", ENGLISH),
        ("zh;q=0, en", ENGLISH),
        ("zh;q=abc, en;q=0.1", ENGLISH),
        ("en;q=0.5, zh-TW;q=0.5", ENGLISH),
    ],
)
def test_the_caller_s_locale_comes_from_accept_language(header: str | None, locale: str) -> None:
    assert pick_locale(header) == locale


def test_each_catalogue_file_is_an_object_of_messages_and_terms() -> None:
    files = sorted(PACKAGE.glob("*/messages/*.json"))
    assert files
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        assert set(data) <= {"messages", "terms"}, path
        for section in data.values():
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in section.items())


def test_catalogues_fall_back_to_english_for_an_unknown_locale() -> None:
    catalogues = Catalogues(PACKAGE)
    assert catalogues["fr"].locale == ENGLISH
    assert catalogues[CHINESE].messages
    assert catalogues[ENGLISH].say(text("x {y}", y=1)) == "x 1"
