"""Labelled Chinese citizen messages for the classifier's tests and benchmark.

Built on the demo's per-category report texts (:mod:`cityops.demo.messages`) and real road
names (:mod:`cityops.demo.places`), made hard enough to be informative: clauses of several
descriptions recombined and dropped, greetings and off-topic sentences, colloquial words and
typos, generic or missing titles, and messages that mention a second problem. Labels are the
category names of the shipped catalogue (``暴露垃圾``, ``路灯``…); :func:`category_tree` gives the
catalogue as paths (group, category, keyword) for the tree option of training.

``python -m cityops.demo.corpus --out messages.csv --n 5000 [--tree tree.csv]``
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from cityops.brain.training import Example
from cityops.demo.messages import REPORTS, ReportText
from cityops.demo.places import LANDMARKS, ROADS

SEED = 5
_STEMS = (
    "枫林",
    "桂花",
    "东塘",
    "望月",
    "左家塘",
    "雨花",
    "金盆",
    "洞井",
    "月湖",
    "德润",
    "清水塘",
    "砂子塘",
)
_COMPOUNDS = ("苑", "小区", "新村", "花园", "家园")
_OPENERS = (
    "尊敬的领导：您好！",
    "领导好，",
    "你好，",
    "您好！我是{community}的业主，",
    "我是附近的居民，",
    "",
    "",
    "",
)
_ASIDES = (
    "这个问题已经反映过好几次了，一直没人管。",
    "打了好几次12345热线都没有结果。",
    "小区里老人小孩多，大家都很担心。",
    "我家孩子在附近上学，每天都要经过这里。",
    "上个月就有人在网上说过这个事。",
    "周边还有好几个小区，住了上千户人家。",
    "我们也理解大家工作辛苦，",
    "不知道该找哪个部门，只好在这里留言。",
)
_CLOSERS = (
    "希望有关部门重视！",
    "请尽快处理，谢谢！",
    "望领导百忙之中关注一下。",
    "谢谢！",
    "",
    "",
)
_GENERIC_TITLES = (
    "反映一个问题",
    "投诉",
    "关于{road}的问题",
    "{community}的问题",
    "请领导关注",
    "求助",
)
# Colloquial words and typical typos of typed or dictated messages.
_VARIANTS = (
    ("垃圾", "拉圾"),
    ("噪音", "燥音"),
    ("非常", "特别"),
    ("很", "贼"),
    ("晚上", "夜里"),
    ("已经", "都"),
    ("摊贩", "小贩"),
    ("施工", "搞工程"),
    ("人行道", "人行路"),
    ("请尽快处理", "麻烦快点搞一下"),
    ("路灯", "路等"),
    ("井盖", "井盖子"),
    ("严重", "太"),
    ("车辆", "车子"),
)
_CLAUSE = re.compile(r"[，。；！]")


def generate(
    n: int, *, seed: int = SEED, mixed_share: float = 0.25, label_noise: float = 0.03
) -> list[Example]:
    """``n`` labelled messages, categories weighted as citizens report them (deterministic).

    ``mixed_share`` of them also describe a second problem; ``label_noise`` of them carry the
    label of another category, as a hurried operator files some cases in real history."""
    rng = random.Random(seed)
    names = category_names()
    reports = [report for report in REPORTS if report.code in names]
    weights = [report.weight for report in reports]
    examples = []
    for _ in range(n):
        report = rng.choices(reports, weights)[0]
        other = rng.choice([r for r in reports if r is not report])
        title, text = _message(report, other if rng.random() < mixed_share else None, rng)
        label = names[(other if rng.random() < label_noise else report).code]
        examples.append(Example(title=title, text=text, label=label))
    return examples


def category_names() -> dict[str, str]:
    """Category code → Chinese name, from the shipped catalogue."""
    return {leaf["code"]: leaf["name_zh"] for _, leaf in _leaves()}


def category_tree() -> list[tuple[str, ...]]:
    """The catalogue as paths: (group, category) and (group, category, keyword)."""
    paths: list[tuple[str, ...]] = []
    for group, leaf in _leaves():
        paths.append((group["name_zh"], leaf["name_zh"]))
        paths.extend((group["name_zh"], leaf["name_zh"], kw) for kw in leaf.get("keywords_zh", ()))
    return paths


def write(path: Path, rows: Sequence[Sequence[str]], header: Sequence[str]) -> None:
    """Rows to ``path``: XLSX for ``.xlsx``, otherwise UTF-8 CSV."""
    if path.suffix.lower() == ".xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(list(header))
        for row in rows:
            sheet.append(list(row))
        book.save(path)
        return
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _leaves() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    data = json.loads(
        resources.files("cityops.cases").joinpath("data/categories.json").read_text("utf-8")
    )
    return [(group, leaf) for group in data["groups"] for leaf in group["leaves"]]


def _message(report: ReportText, second: ReportText | None, rng: random.Random) -> tuple[str, str]:
    road, other_road = rng.sample(ROADS[rng.choice(sorted(ROADS))], 2)
    community = rng.choice(_STEMS) + rng.choice(_COMPOUNDS)
    place = rng.choice(
        (
            f"{road}{rng.randint(1, 400)}号附近",
            f"{road}与{other_road}交叉口",
            f"{community}{rng.randint(1, 30)}栋楼下",
            f"{road}{rng.choice(LANDMARKS)}",
        )
    )
    values = {
        "place": place,
        "road": road,
        "community": community,
        "n": str(rng.randint(2, 9)),
        "days": rng.choice(("三天", "一个星期", "好几天", "半个月")),
    }
    draw = rng.random()
    if draw < 0.6:
        title = rng.choice(report.titles)
    elif draw < 0.8:
        title = rng.choice(_GENERIC_TITLES)
    else:
        title = ""
    parts = [rng.choice(_OPENERS), _clauses(report, rng)]
    if rng.random() < 0.4:
        parts.append(rng.choice(_ASIDES))
    if second is not None:
        parts.append(
            rng.choice(("另外，", "还有，", "顺便说一下，")) + _clauses(second, rng, most=2)
        )
    parts.append(rng.choice(_CLOSERS))
    text = "".join(parts)
    for plain, variant in _VARIANTS:
        if plain in text and rng.random() < 0.25:
            text = text.replace(plain, variant, 1)
    return _fill(title, values), _fill(text, values)


def _clauses(report: ReportText, rng: random.Random, most: int = 3) -> str:
    """Some clauses of one or two of the category's descriptions, in order."""
    first = [c for c in _CLAUSE.split(rng.choice(report.texts)) if c]
    pool = first + [c for c in _CLAUSE.split(rng.choice(report.texts)) if c and c not in first]
    count = rng.randint(1, min(most, len(pool)))
    chosen = set(rng.sample(range(len(pool)), count))
    if rng.random() < 0.4:
        chosen.add(0)  # most messages keep the sentence that says what and where
    return "，".join(pool[i] for i in sorted(chosen)) + "。"


def _fill(template: str, values: dict[str, str]) -> str:
    return template.format(**values)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="CSV or XLSX file to write")
    parser.add_argument("--n", type=int, default=5000, help="messages to generate")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--tree", type=Path, help="also write the category tree here")
    args = parser.parse_args(argv)
    examples = generate(args.n, seed=args.seed)
    write(args.out, [(e.title, e.text, e.label) for e in examples], ("title", "text", "label"))
    if args.tree:
        write(args.tree, category_tree(), ("level1", "level2", "level3"))
    print(f"wrote {len(examples)} messages to {args.out}")


if __name__ == "__main__":
    main()
