"""Messages said in the caller's language.

Code writes its user-visible messages in English, as gettext does: a plain string is its own
key, and a message with values in it is a :class:`Text` (``text("unknown area {code!r}",
code=code)``), a ``str`` whose English rendering is ready to use everywhere (logs, tests, the
CLI) and which also keeps its template and values. Each module keeps its translations in
``<module>/messages/<locale>.json``::

    {"messages": {"unknown area {code!r}": "未知区域 {code!r}"},
     "terms": {"registered": "已立案"}}

A template may write a value with the conversion ``!t``: the value is then looked up in the
locale's terms (states, roles, levels …) and said as the term, or as it is when it is none.
An English message without a translation is said in English.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENGLISH = "en"
CHINESE = "zh-CN"
LOCALES = (CHINESE, ENGLISH)
CATALOGUE_GLOB = "*/messages/{locale}.json"


class _Formatter(string.Formatter):
    def __init__(self, terms: Mapping[str, str]) -> None:
        self.terms = terms

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion == "t":
            return self.terms.get(str(value), str(value))
        return super().convert_field(value, conversion)


_ENGLISH = _Formatter({})


class Text(str):
    """An English message that keeps its template and values, to be said in another language."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, /, **params: Any) -> Text:
        said = super().__new__(cls, _ENGLISH.format(template, **params))
        said.template = template
        said.params = params
        return said

    @classmethod
    def worded(cls, english: str, template: str, params: Mapping[str, Any]) -> Text:
        """A message whose English wording comes from elsewhere (a library's) and which other
        languages say by ``template`` with ``params``."""
        said = str.__new__(cls, english)
        said.template = template
        said.params = dict(params)
        return said

    def __reduce__(self) -> tuple[Any, ...]:  # pickles (and copies) as its English rendering
        return (str, (str(self),))


def text(template: str, /, **params: Any) -> Text:
    """A message with values in it: ``text("at most {limit} photos", limit=9)``."""
    return Text(template, **params)


def pydantic_text(error: Mapping[str, Any]) -> Text:
    """A pydantic validation error's message: pydantic's English, said in other languages by
    the validator's own message (the text of its ``ValueError``) or else by the error's type
    (the template ``pydantic.<type>``, filled in from the error's context)."""
    context = dict(error.get("ctx") or {})
    reason = context.get("error")
    if error["type"] == "value_error" and isinstance(reason, ValueError) and reason.args:
        first = reason.args[0]
        if isinstance(first, Text):
            return Text.worded(str(error["msg"]), first.template, first.params)
        return Text.worded(str(error["msg"]), str(first), {})
    return Text.worded(str(error["msg"]), f"pydantic.{error['type']}", context)


@dataclass(frozen=True)
class Catalogue:
    """One locale's translations: English message or template → translation, and terms."""

    locale: str
    messages: Mapping[str, str] = field(default_factory=dict)
    terms: Mapping[str, str] = field(default_factory=dict)

    def say(self, message: str) -> str:
        """The message in this locale; English where no translation is known or where the
        translation names a value the message does not have."""
        if not isinstance(message, Text):
            return self.messages.get(message, message)
        template = self.messages.get(message.template)
        if template is None:
            return str(message)
        try:
            return _Formatter(self.terms).format(template, **message.params)
        except (KeyError, IndexError, ValueError):
            return str(message)

    def term(self, word: str) -> str:
        return self.terms.get(word, word)


def load_catalogue(root: Path, locale: str) -> Catalogue:
    """Merge every module's ``messages/<locale>.json`` under ``root`` (the package)."""
    messages: dict[str, str] = {}
    terms: dict[str, str] = {}
    for path in sorted(root.glob(CATALOGUE_GLOB.format(locale=locale))):
        data = json.loads(path.read_text(encoding="utf-8"))
        messages.update(data.get("messages", {}))
        terms.update(data.get("terms", {}))
    return Catalogue(locale, messages, terms)


class Catalogues:
    """The catalogue of each supported locale, loaded once."""

    def __init__(self, root: Path, locales: Iterable[str] = LOCALES) -> None:
        self._by_locale = {
            locale: Catalogue(locale) if locale == ENGLISH else load_catalogue(root, locale)
            for locale in locales
        }

    def __getitem__(self, locale: str) -> Catalogue:
        return self._by_locale.get(locale) or self._by_locale[ENGLISH]


def pick_locale(accept_language: str | None, default: str = ENGLISH) -> str:
    """The caller's most preferred of the supported locales, else ``default``."""
    return asked_locale(accept_language) or default


def asked_locale(accept_language: str | None) -> str | None:
    """The caller's most preferred of the supported locales (``Accept-Language`` with its
    q-values; any ``zh`` counts as zh-CN), or None when it asks for neither."""
    best: tuple[float, int, str] | None = None
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        locale = _supported(tag.strip().lower())
        if locale is None:
            continue
        weight = _quality(params)
        if weight > 0 and (best is None or (weight, -index) > (best[0], best[1])):
            best = (weight, -index, locale)
    return best[2] if best else None


def _supported(tag: str) -> str | None:
    if tag == "zh" or tag.startswith("zh-"):
        return CHINESE
    if tag == "en" or tag.startswith("en-"):
        return ENGLISH
    return None


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0
