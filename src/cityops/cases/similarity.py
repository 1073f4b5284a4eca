"""Text similarity of two citizen reports, for duplicate detection and hot spots.

Pure functions, no dictionary and no model: the text is normalised (NFKC, lower case, only
letters and digits kept), then compared as bags of character bigrams and trigrams with the
cosine measure. Character n-grams suit Chinese (no word segmentation needed: 井盖 and 窨井盖
share 井盖) and tolerate the small rewordings citizens make; Latin words are kept whole as
extra features so that English reports compare by word too.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

_WORD = re.compile(r"[a-z0-9]+")
# Words that say nothing about the problem (Chinese particles and report boilerplate, English
# stop words); removing them keeps two unrelated reports from matching on 有人 / 附近 / please.
_NOISE_ZH = (
    "请尽快处理",
    "请尽快",
    "尽快处理",
    "麻烦",
    "希望",
    "相关部门",
    "有关部门",
    "处理一下",
    "谢谢",
    "你好",
    "您好",
)
_STOP_EN = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "there",
        "here",
        "this",
        "that",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "with",
        "and",
        "or",
        "please",
        "near",
        "nearby",
        "by",
        "from",
        "it",
        "its",
        "has",
        "have",
    ]
)


@dataclass(frozen=True)
class TextVector:
    """The n-gram counts of one normalised text and their Euclidean norm."""

    grams: dict[str, float]
    norm: float


def normalise(text: str) -> str:
    """NFKC, lower case, boilerplate removed; letters, digits and single spaces only."""
    text = unicodedata.normalize("NFKC", text).lower()
    for noise in _NOISE_ZH:
        text = text.replace(noise, " ")
    kept = [ch if ch.isalnum() else " " for ch in text]
    return " ".join("".join(kept).split())


def vectorise(text: str) -> TextVector:
    """Character bigrams and trigrams of each run of CJK/other letters, plus Latin words."""
    norm = normalise(text)
    grams: dict[str, float] = defaultdict(float)
    for word in _WORD.findall(norm):
        if word not in _STOP_EN:
            grams["w:" + word] += 2.0
    cjk = _WORD.sub(" ", norm)
    for run in cjk.split():
        if len(run) == 1:
            grams[run] += 1.0
        for n in (2, 3):
            for i in range(len(run) - n + 1):
                grams[run[i : i + n]] += 1.0
    weights = dict(grams)
    return TextVector(weights, math.sqrt(sum(w * w for w in weights.values())))


def cosine(a: TextVector, b: TextVector) -> float:
    """Cosine of two vectors in [0, 1]; 0 when either text has nothing to compare."""
    if a.norm == 0 or b.norm == 0:
        return 0.0
    small, large = (a.grams, b.grams) if len(a.grams) <= len(b.grams) else (b.grams, a.grams)
    dot = sum(w * large.get(g, 0.0) for g, w in small.items())
    return min(1.0, dot / (a.norm * b.norm))


def text_similarity(a: str, b: str) -> float:
    return cosine(vectorise(a), vectorise(b))
