"""Text of citizen messages as features: normalisation, Chinese words (jieba), character n-grams
of Chinese runs and English words; the title counts more than the body.

jieba is imported lazily (its dictionary takes about a second to load) and quietly: its regular
expressions raise DeprecationWarning/SyntaxWarning on Python 3.11, it logs to stderr, and it
writes a dictionary cache into the temporary directory.
"""

from __future__ import annotations

import re
import tempfile
import threading
import unicodedata
import warnings
from collections.abc import Callable
from pathlib import Path

TITLE_WEIGHT = 2  # a title word counts as this many body words
NGRAM_MAX = 3

_SPACE = re.compile(r"\s+")
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_LATIN_WORD = re.compile(r"[a-z][a-z0-9'-]*[a-z0-9]|[a-z]")
_HAN_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")

# Function words and politeness that carry no category.
STOP_WORDS: frozenset[str] = frozenset(
    "的 了 在 是 我 有 和 就 不 人 都 一 一个 上 也 很 到 说 要 "  # noqa: SIM905
    "去 你 会 着 没有 看 好 自己 这 那 他 她 它 们 我们 你们 "
    "他们 什么 怎么 这个 那个 还 把 被 让 给 对 从 为 与 及 或 "
    "等 吗 呢 吧 啊 呀 哦 已经 现在 请 请问 您好 你好 谢谢 感谢 "
    "希望 相关 部门 有关 问题 情况 反映 尽快 处理 麻烦 一下 "
    "附近 这里 那里 这边 每天 非常 严重 影响 市民 居民 我们的 "
    "领导 尊敬 能否 是否 可以 能 该 其 之 于 而 a an the of to in on "
    "at for and or is are was were be been it this that with by from as please there "
    "here very not no our we i my you ".split()
)

_jieba_lock = threading.Lock()
_cut: Callable[[str], list[str]] | None = None


def normalise(text: str) -> str:
    """Full-width to half-width (NFKC), whitespace collapsed to one space, lower case."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()


def words(text: str) -> list[str]:
    """The content words of normalised ``text``: jieba words of Chinese runs (one character
    words and stop words dropped) and English words (stop words dropped)."""
    cut = _segmenter()
    found: list[str] = []
    for run in _HAN_RUN.findall(text):
        found.extend(w for w in cut(run) if len(w) > 1 and w not in STOP_WORDS)
    found.extend(w for w in _LATIN_WORD.findall(text) if w not in STOP_WORDS and len(w) > 1)
    return found


def char_ngrams(text: str, n_max: int = NGRAM_MAX) -> list[str]:
    """Character 1..n_max-grams inside each run of Chinese characters of normalised ``text``."""
    grams: list[str] = []
    for run in _HAN_RUN.findall(text):
        size = len(run)
        for n in range(1, n_max + 1):
            grams.extend(run[i : i + n] for i in range(size - n + 1))
    return grams


def features(title: str, text: str) -> list[str]:
    """The features of one message: words and n-grams of the title (``TITLE_WEIGHT`` times) and
    of the body. Every feature is a substring of the normalised message."""
    head = normalise(title)
    body = normalise(text)
    head_features = words(head) + char_ngrams(head)
    return head_features * TITLE_WEIGHT + words(body) + char_ngrams(body)


def analyse(message: str) -> list[str]:
    """The analyzer of the TF-IDF vectoriser: ``message`` is ``title + "\\n" + text``."""
    title, _, text = message.partition("\n")
    return features(title, text)


def join(title: str, text: str) -> str:
    """One string per message for the vectoriser (the title has no newline after normalisation)."""
    return f"{normalise(title)}\n{text}"


def is_word(feature: str) -> bool:
    """Whether a feature reads as a word for an explanation (not a lone Chinese character)."""
    return not (len(feature) == 1 and _HAN_CHAR.match(feature) is not None)


def _segmenter() -> Callable[[str], list[str]]:
    global _cut
    if _cut is None:
        with _jieba_lock:
            if _cut is None:
                _cut = _load_jieba()
    return _cut


def _load_jieba() -> Callable[[str], list[str]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        import jieba

        jieba.setLogLevel(60)
        cache = Path(tempfile.gettempdir()) / "cityops-jieba"
        cache.mkdir(parents=True, exist_ok=True)
        jieba.dt.tmp_dir = str(cache)
        jieba.initialize()
        lcut: Callable[[str], list[str]] = jieba.lcut
    return lcut
