"""The keyword classifier: what a city uses before it has trained a model.

It reads the category catalogue (each leaf's names in Chinese and English and its keywords)
and scores a message by the terms it contains, the title counting more than the text. A
longer term is stronger evidence than a short one (井盖缺失 says more than 井盖). The
confidence is the category's share of all the evidence plus a fixed doubt, so one weak match
is never sure, and a term shared by several categories splits its weight between them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from cityops.brain.schemas import Suggestion

TITLE_WEIGHT = 2.0
TEXT_WEIGHT = 1.0
# Evidence every message is given against all categories: with one plain match in the text
# the confidence stays low; a few strong matches, in the title too, come near 1.
DOUBT = 2.0
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class CategoryTerms:
    """A leaf category and the terms that point to it."""

    code: str
    terms: tuple[str, ...]


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text.lower()).strip()


def _strength(term: str) -> float:
    # A Chinese character carries about as much as a short English word; cap long phrases.
    letters = sum(1 for ch in term if ch.isascii())
    size = (len(term) - letters) + letters / 4
    return min(1.0 + 0.25 * max(size - 2, 0), 2.0)


class KeywordClassifier:
    """Satisfies :class:`cityops.brain.schemas.Classifier` from the category catalogue."""

    name = "keywords"

    def __init__(self, categories: Iterable[CategoryTerms]) -> None:
        self._terms: dict[str, tuple[str, ...]] = {}
        for category in categories:
            unique = {_norm(t) for t in category.terms if t and t.strip()}
            self._terms[category.code] = tuple(sorted(unique, key=lambda t: (-len(t), t)))
        # How many categories share each term: a shared term is split between them.
        self._share: dict[str, int] = {}
        for terms in self._terms.values():
            for term in terms:
                self._share[term] = self._share.get(term, 0) + 1

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(sorted(self._terms))

    def suggest(self, title: str, text: str, k: int = 3) -> list[Suggestion]:
        title_n, text_n = _norm(title), _norm(text)
        scores: dict[str, float] = {}
        words: dict[str, list[tuple[float, str]]] = {}
        for code, terms in self._terms.items():
            score, matched = 0.0, []
            for term in terms:
                weight = TITLE_WEIGHT * (term in title_n) + TEXT_WEIGHT * (term in text_n)
                if weight:
                    gain = weight * _strength(term) / self._share[term]
                    score += gain
                    matched.append((gain, term))
            if score:
                scores[code], words[code] = score, matched
        if not scores:
            return []
        total = sum(scores.values()) + DOUBT
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[: max(k, 0)]
        return [
            Suggestion(
                label=code,
                confidence=round(score / total, 4),
                words=tuple(t for _, t in sorted(words[code], key=lambda w: (-w[0], w[1]))),
            )
            for code, score in ranked
        ]
