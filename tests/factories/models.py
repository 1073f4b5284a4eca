"""Cases a person categorised, for training model versions from a test city's own history."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from cityops.cases import service as cases
from cityops.core.runtime import Runtime
from cityops.demo.messages import REPORTS
from factories.cases import report

ActorFn = Callable[[str], Any]

# Three categories with clearly different texts (rubbish, street stalls, noise).
CODES = ("E-01-02", "E-05-21", "A-01-01")
ROADS = ("五一大道", "芙蓉路", "韶山路", "劳动路", "人民路", "解放路", "黄兴路", "蔡锷路")
COMMUNITIES = ("东塘小区", "左家塘社区", "雨花亭小区", "砂子塘社区", "侯家塘小区")


def messages(code: str, n: int, *, seed: int = 7) -> list[tuple[str, str]]:
    """``n`` (title, text) pairs of the demo's templates for ``code``, places varied."""
    texts = next(r for r in REPORTS if r.code == code)
    rng = random.Random(f"{seed}-{code}")
    out = []
    for i in range(n):
        fill = {
            "road": rng.choice(ROADS),
            "community": rng.choice(COMMUNITIES),
            "place": f"{rng.choice(ROADS)}{rng.randint(1, 400)}号附近",
            "n": str(rng.randint(2, 9)),
            "days": rng.choice(("两三天", "好几天", "一个星期")),
        }
        title = texts.titles[i % len(texts.titles)].format(**fill)
        text = texts.texts[i % len(texts.texts)].format(**fill)
        out.append((title, text))
    return out


def quiet_duplicates(rt: Runtime) -> None:
    """Similar reports near each other stay separate cases (no proposals, no merging)."""
    rt.settings = rt.settings.model_copy(update={"duplicate_auto_merge": False})


def registered(
    rt: Runtime,
    actor: ActorFn,
    labelled: Sequence[tuple[str, str, str]],
) -> list[Any]:
    """Report each (title, text, code) with its category and have the operator register it."""
    quiet_duplicates(rt)
    made = []
    for title, text, code in labelled:
        case = report(rt, actor, category=code, title=title, description=text)
        cases.register_case(rt, actor=actor("operator"), case_id=case.id)
        made.append(case)
    return made


def history(rt: Runtime, actor: ActorFn, per_code: int = 8, codes: Sequence[str] = CODES) -> None:
    """``per_code`` registered cases of each category in ``codes``."""
    rows = [(t, x, code) for code in codes for t, x in messages(code, per_code)]
    registered(rt, actor, rows)
