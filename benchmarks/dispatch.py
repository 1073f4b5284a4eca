"""Intelligent dispatch: the case classifier's quality and speed, and duplicate detection.

Input: a labelled file (``--data`` with ``--text-column``/``--title-column``/``--label-column``)
or, by default, a generated corpus of Chinese citizen messages (:mod:`cityops.demo.corpus`).
``--unlabelled FILE`` adds unlabelled messages (same column options; labels ignored) and
``--category-tree FILE`` the category paths.

Configurations, each ending in one JSON line:

1. **cv**: stratified k-fold cross-validation of the full labelled data: macro_f1, accuracy.
2. **few_labels**: 50 labelled messages per category, the rest of the labelled file (and any
   ``--unlabelled`` file) as unlabelled text, plus the tree if given, evaluated on a held-out
   fifth; and **few_labels_baseline**: the same 50 per category alone (no latent space, no
   self-training, no tree).
3. **predict**: one message at a time through ``suggest`` (top 3 with words): p50_ms, p99_ms.
4. **train_10k**: training on 10,000 labelled messages (repeated from the data if it is
   smaller): seconds, messages_per_s.
5. **duplicates**: :func:`duplicate_figures`: precision and recall of duplicate detection on
   generated reports with known duplicates, p50_ms/p99_ms of the duplicate check, lost
   (``benchmarks/duplicates.py``).

``--quick`` shrinks every configuration for a smoke run.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from common import latency_summary, machine_info, print_json_line, say, source_revision

from cityops.brain import tabular, training
from cityops.brain.training import Example, Options
from cityops.demo import corpus


def duplicate_figures(quick: bool) -> dict[str, Any] | None:
    """Precision and recall of duplicate detection on generated reports with known duplicates,
    the duplicate check's p50/p99 and the reports lost (``benchmarks/duplicates.py``; its full
    figures with ``p50_ms``/``p99_ms`` naming the check's)."""
    import duplicates as duplicate_bench  # the benchmarks folder is on sys.path

    figures = duplicate_bench.duplicate_figures(quick)
    figures.pop("bench", None)
    return {
        "precision": figures["precision"],
        "recall": figures["recall"],
        "p50_ms": figures["check_ms_p50"],
        "p99_ms": figures["check_ms_p99"],
        "lost": figures["lost"],
        **figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, help="labelled CSV/XLSX (default: generated)")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--title-column", default="title")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--unlabelled", type=Path, action="append", default=[])
    parser.add_argument("--category-tree", type=Path)
    parser.add_argument("--generated", type=int, default=10_000, help="generated corpus size")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--per-label", type=int, default=50, help="labelled per category (few)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    args = parser.parse_args()
    quick = args.quick
    context = {"machine": machine_info(), "revision": source_revision()}

    if args.data:
        messages = tabular.read_messages(
            args.data,
            text_column=args.text_column,
            title_column=args.title_column or None,
            label_column=args.label_column,
        )
        tabular.require_classes(messages, args.data, args.label_column)
        labelled, source = messages.labelled, str(args.data)
    else:
        labelled = corpus.generate(2000 if quick else args.generated)
        source = f"generated corpus ({len(labelled)} messages, cityops.demo.corpus)"
    unlabelled: list[tuple[str, str]] = []
    for path in args.unlabelled:
        unlabelled.extend(
            tabular.read_unlabelled(
                path,
                text_column=args.text_column,
                title_column=args.title_column or None,
                label_column=args.label_column,
            )
        )
    if args.category_tree:
        tree = tabular.read_tree(args.category_tree)
    elif not args.data:
        tree = corpus.category_tree()
    else:
        tree = []
    say(
        f"data: {source}: {len(labelled)} labelled, {len(Counter(e.label for e in labelled))}"
        f" classes; {len(unlabelled)} unlabelled; {len(tree)} tree paths"
    )
    common = {"data": source, **context}

    folds = 3 if quick else args.folds
    started = time.perf_counter()
    figures = training.cross_validate(labelled, folds)
    say(f"cv: {folds}-fold macro-F1 {figures.macro_f1:.4f}, accuracy {figures.accuracy:.4f}")
    print_json_line(
        {
            "config": "cv",
            "folds": folds,
            "n": figures.n,
            "classes": len(figures.per_class),
            "macro_f1": figures.macro_f1,
            "accuracy": figures.accuracy,
            "seconds": round(time.perf_counter() - started, 1),
            **common,
        }
    )

    few, rest, test = _few_labels(labelled, args.per_label)
    extra = [(e.title, e.text) for e in rest] + unlabelled
    helped = training.train(few, unlabelled=extra, tree=tree)
    alone = training.train(few, options=Options(latent_weight=0.0, self_training=False))
    for name, model in (("few_labels", helped), ("few_labels_baseline", alone)):
        result = training.evaluate(model, test)
        say(
            f"{name}: {len(few)} labelled + {model.info['unlabelled_size']} unlabelled"
            f" ({model.info['pseudo_labelled']} self-labelled), {model.info['tree_examples']}"
            f" tree examples: macro-F1 {result.macro_f1:.4f}, accuracy {result.accuracy:.4f}"
        )
        print_json_line(
            {
                "config": name,
                "per_label": args.per_label,
                "labelled": len(few),
                "unlabelled": model.info["unlabelled_size"],
                "pseudo_labelled": model.info["pseudo_labelled"],
                "tree_examples": model.info["tree_examples"],
                "test_n": result.n,
                "macro_f1": result.macro_f1,
                "accuracy": result.accuracy,
                **common,
            }
        )

    samples = test[: 200 if quick else 2000]
    helped.suggest(samples[0].title, samples[0].text)  # warm: jieba dictionary, caches
    latencies = []
    for example in samples:
        begun = time.perf_counter()
        helped.suggest(example.title, example.text, k=3)
        latencies.append(time.perf_counter() - begun)
    summary = latency_summary(latencies)
    say(f"predict: p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms per message")
    print_json_line(
        {
            "config": "predict",
            "messages": len(latencies),
            "messages_per_s": round(len(latencies) / sum(latencies), 1),
            **summary,
            **common,
        }
    )

    size = 2000 if quick else 10_000
    rng = random.Random(1)
    big = [labelled[i % len(labelled)] for i in rng.sample(range(max(size, len(labelled))), size)]
    begun = time.perf_counter()
    model = training.train(big)
    seconds = time.perf_counter() - begun
    say(f"train_{size // 1000}k: {seconds:.1f} s ({size / seconds:.0f} messages/s)")
    print_json_line(
        {
            "config": f"train_{size // 1000}k",
            "messages": size,
            "seconds": round(seconds, 2),
            "messages_per_s": round(size / seconds, 1),
            "vocabulary": model.info["vocabulary"],
            **common,
        }
    )

    duplicates = duplicate_figures(quick)
    if duplicates is not None:
        print_json_line({"config": "duplicates", **duplicates, **common})


def _few_labels(
    examples: list[Example], per_label: int
) -> tuple[list[Example], list[Example], list[Example]]:
    """(``per_label`` per category, the rest of the training part, a held-out fifth)."""
    pool, test = training.split(examples, 0.2)
    rng = random.Random(7)
    order = list(range(len(pool)))
    rng.shuffle(order)
    taken: Counter[str] = Counter()
    few, rest = [], []
    for index in order:
        example = pool[index]
        if taken[example.label] < per_label:
            taken[example.label] += 1
            few.append(example)
        else:
            rest.append(example)
    return few, rest, test


if __name__ == "__main__":
    main()
