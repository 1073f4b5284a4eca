"""Text similarity of two citizen reports, for duplicate detection and hot spots.

Pure functions, no model: the text is normalised (NFKC, lower case, only letters and digits
kept), then compared as bags of character bigrams and trigrams with the cosine measure.
Character n-grams suit Chinese (no word segmentation needed: 井盖 and 窨井盖 share 井盖) and
tolerate the small rewordings citizens make; Latin words are kept whole as extra features so
that English reports compare by word too.

Two reports of the same category at the same street corner share the place name and the
category's words, so their n-grams look alike even when they report different problems
("路灯不亮" and "路灯白天一直亮着"). The *signature* of a report catches that: the state
and the object it names, from a small lexicon of the words citizens use (不亮/坏了 against
一直亮/白天开着 against 歪了/快倒了; 丢了 against 破了; 人行道 against 消防通道; 烧烤 against
工地; 困人), and its numbered objects (3栋, 12号). Two signatures *conflict* when, in one
family of aspects, both name something and nothing in common, when one names people in
danger (困人) and the other does not, or when both number the same kind of object (栋,
单元, 号) differently.
A conflicting pair is another problem at the same place: its similarity is discounted.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

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
    return _vectorise(normalise(text))


def _vectorise(norm: str) -> TextVector:
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


# What a report says is wrong, by family: within a family the aspects are alternatives (a
# light is off, or on by day, or leaning), so two reports naming only different ones of a
# family report different problems. Words are matched as substrings of the normalised text.
ASPECTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "off": (
        "state",
        (
            "不亮",
            "不会亮",
            "灭了",
            "熄灭",
            "漆黑",
            "黑灯",
            "坏了",
            "故障",
            "停运",
            "不工作",
            "失灵",
            "停了",
            "not working",
            "out of order",
            "broken down",
        ),
    ),
    "always_on": (
        "state",
        ("一直亮", "常亮", "白天", "开着", "没关", "不关", "浪费电", "daytime", "all day"),
    ),
    "leaning": ("state", ("歪", "倾斜", "快倒", "要倒", "会倒", "倒伏", "撞", "leaning", "tilted")),
    "missing": ("state", ("丢了", "丢失", "不见", "缺失", "被偷", "没有盖", "missing", "stolen")),
    "damaged": (
        "state",
        ("破了", "破损", "碎了", "裂", "大洞", "松动", "塌陷", "坏掉", "cracked", "damaged"),
    ),
    "sidewalk": ("where", ("人行道", "盲道", "sidewalk", "pavement")),
    "fire_lane": ("where", ("消防通道", "消防车道", "生命通道", "fire lane", "fire exit")),
    "eatery": (
        "source",
        ("烧烤", "夜宵", "大排档", "饭店", "餐馆", "酒吧", "喧哗", "barbecue", "bar"),
    ),
    "works": ("source", ("工地", "施工", "机器", "打桩", "装修", "construction", "drilling")),
    "household": ("source", ("很臭", "臭气", "发臭", "无人清运", "没人清理", "生活垃圾", "smell")),
    "debris": ("source", ("装修垃圾", "建筑垃圾", "渣土", "倾倒", "乱倒", "rubble", "dumped")),
    "leak": ("flow", ("冒水", "漏水", "全是水", "爆", "破裂", "leak", "burst")),
    "overflow": ("flow", ("横流", "漫到", "冒出", "溢出", "overflow")),
    "blocked": ("flow", ("堵了", "堵塞", "不通", "blocked")),
}
_FAMILIES = sorted({family for family, _ in ASPECTS.values()})
# People in danger: a report of them is a new emergency, not a repeat of a report without.
MARKERS: dict[str, tuple[str, ...]] = {
    "people_trapped": ("困人", "被困", "困在", "里面有人", "打不开", "trapped", "stuck inside"),
}
# Numbered objects (3栋, 2单元, 12号): two reports numbering the same kind differently name
# different buildings or doors. Floors are not objects (a lift stops at one floor or another).
# A date (3月5号) is no door number.
_NUMBERED = re.compile(
    r"(?<![月0-9一二三四五六七八九十])([0-9]+|[一二三四五六七八九十]+)\s*(号楼|栋|幢|单元|号)"
)
_SAME_KIND = {"号楼": "栋", "幢": "栋"}
CONFLICT_FACTOR = 0.3  # a conflicting pair keeps this share of its text similarity
PREPARED = 4096  # prepared texts kept per process


@dataclass(frozen=True)
class Signature:
    """The aspects (what is wrong), markers (people in danger) and object numbers of a report."""

    aspects: frozenset[str]
    markers: frozenset[str]
    numbers: frozenset[str]


def signature(text: str) -> Signature:
    return _signature(normalise(text))


def _signature(norm: str) -> Signature:
    padded = f" {norm} "
    return Signature(
        frozenset(k for k, (_, words) in ASPECTS.items() if _names(norm, padded, words)),
        frozenset(k for k, words in MARKERS.items() if _names(norm, padded, words)),
        frozenset(
            m.group(1) + _SAME_KIND.get(m.group(2), m.group(2)) for m in _NUMBERED.finditer(norm)
        ),
    )


def _names(norm: str, padded: str, words: tuple[str, ...]) -> bool:
    """Whether the text has one of ``words``: Chinese as a substring, English as whole words."""
    return any((f" {w} " in padded) if w.isascii() else (w in norm) for w in words)


def conflict(a: Signature, b: Signature) -> str | None:
    """Why the two reports are about different problems (the family, ``marker`` or
    ``number``), or None when nothing says so."""
    if a.markers != b.markers:
        return "marker"
    if a.numbers and b.numbers:
        for kind in {n[-1] for n in a.numbers} & {n[-1] for n in b.numbers}:
            if not {n for n in a.numbers if n.endswith(kind)} & b.numbers:
                return "number"
    if not (a.aspects and b.aspects):
        return None
    for family in _FAMILIES:
        mine = {k for k in a.aspects if ASPECTS[k][0] == family}
        theirs = {k for k in b.aspects if ASPECTS[k][0] == family}
        if mine and theirs and not mine & theirs:
            return family
    return None


@dataclass(frozen=True)
class Report:
    """A report's text prepared for comparison: its n-gram vector and its signature."""

    vector: TextVector
    signature: Signature


@lru_cache(maxsize=PREPARED)
def prepare(text: str) -> Report:
    """The text prepared for comparison (kept for the latest PREPARED texts: an open case is
    compared with every later report near it), normalised once for both parts. Shared: read
    it, never change it."""
    norm = normalise(text)
    return Report(_vectorise(norm), _signature(norm))


def compare(a: Report, b: Report) -> tuple[float, str | None]:
    """The text similarity of two reports (discounted by CONFLICT_FACTOR when their
    signatures conflict) and the conflict, if any."""
    value = cosine(a.vector, b.vector)
    reason = conflict(a.signature, b.signature)
    return (value * CONFLICT_FACTOR if reason else value), reason


def report_similarity(a: str, b: str) -> float:
    return compare(prepare(a), prepare(b))[0]
