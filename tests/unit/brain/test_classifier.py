from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from cityops.brain import text, training
from cityops.brain.classifier import TextClassifier
from cityops.brain.schemas import Classifier
from cityops.brain.training import Example, Options, TrainingError


def test_model_is_accurate_and_beats_shuffled_labels(
    model: TextClassifier, split: tuple[list[Example], list[Example]]
) -> None:
    train_part, test_part = split
    figures = training.evaluate(model, test_part)
    assert figures.n == len(test_part)
    assert figures.accuracy >= 0.8  # 40 categories: chance is about 0.1 for the largest
    assert figures.macro_f1 >= 0.7
    labels = [e.label for e in train_part]
    random.Random(3).shuffle(labels)
    shuffled = [
        Example(e.title, e.text, label) for e, label in zip(train_part, labels, strict=True)
    ]
    noise = training.evaluate(
        training.train(shuffled, options=Options(self_training=False, latent_weight=0)),
        test_part,
    )
    assert noise.accuracy < figures.accuracy - 0.4


def test_evaluation_has_per_class_figures(
    model: TextClassifier, split: tuple[list[Example], list[Example]]
) -> None:
    figures = training.evaluate(model, split[1])
    assert set(figures.per_class) == {e.label for e in split[1]}
    for label, row in figures.per_class.items():
        assert 0 <= row.precision <= 1
        assert 0 <= row.recall <= 1
        assert 0 <= row.f1 <= 1
        assert row.support == sum(e.label == label for e in split[1])
    assert set(figures.as_dict()) == {"n", "accuracy", "macro_f1", "per_class"}


def test_few_labels_with_unlabelled_text_and_tree_are_not_worse(
    split: tuple[list[Example], list[Example]],
) -> None:
    from cityops.demo import corpus

    train_part, test_part = split
    taken: Counter[str] = Counter()
    few: list[Example] = []
    rest: list[tuple[str, str]] = []
    for example in train_part:
        if taken[example.label] < 4:
            taken[example.label] += 1
            few.append(example)
        else:
            rest.append((example.title, example.text))
    few = [e for e in few if taken[e.label] >= 2]
    test_part = [e for e in test_part if taken[e.label] >= 2]
    alone = training.train(few, options=Options(latent_weight=0, self_training=False))
    helped = training.train(few, unlabelled=rest, tree=corpus.category_tree())
    assert helped.info["pseudo_labelled"] > 0
    assert helped.info["tree_examples"] > 0
    assert (
        training.evaluate(helped, test_part).macro_f1
        >= training.evaluate(alone, test_part).macro_f1 - 0.01
    )


def test_suggestions_are_ordered_probabilities(model: TextClassifier) -> None:
    classifier: Classifier = model  # the Protocol, checked by mypy
    suggestions = classifier.suggest("路灯不亮", "五一大道有三盏路灯晚上不亮，一片漆黑")
    assert len(suggestions) == 3
    assert suggestions[0].label == "路灯"
    confidences = [s.confidence for s in suggestions]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0.0 <= c <= 1.0 for c in confidences)
    assert sum(confidences) <= 1.0 + 1e-9
    assert len({s.label for s in suggestions}) == 3
    assert len(model.suggest("", "垃圾", k=5)) == 5
    assert model.suggest("", "垃圾", k=0) == []
    assert model.labels == tuple(sorted(model.labels))


def test_explanation_words_occur_in_the_message(model: TextClassifier) -> None:
    title, body = "小区垃圾堆积", "楼下空地上生活垃圾成堆，散发异味，蚊蝇很多"
    message = text.normalise(title) + " " + text.normalise(body)
    top = model.suggest(title, body)[0]
    assert top.label == "暴露垃圾"
    assert top.words
    assert all(word in message for word in top.words)
    assert any(len(word) > 1 for word in top.words)


def test_message_without_known_words_gets_low_confidence(model: TextClassifier) -> None:
    suggestions = model.suggest("", "qwerty zxcvb")
    assert suggestions[0].confidence < 0.5
    assert suggestions[0].words == ()


def test_fast_path_matches_scikit_learn(
    model: TextClassifier, split: tuple[list[Example], list[Example]]
) -> None:
    messages = [text.join(e.title, e.text) for e in split[1][:50]]
    representation = model.representation
    ours = representation.vectorise(messages).toarray()
    theirs = representation.tfidf.transform(messages).toarray()
    assert np.allclose(ours, theirs, atol=1e-6)
    _, rows = representation.transform(messages)
    expected = model.model.predict_proba(rows)
    assert np.allclose(model.probabilities([(e.title, e.text) for e in split[1][:50]]), expected)


def test_training_is_deterministic(examples: list[Example]) -> None:
    common = [label for label, n in Counter(e.label for e in examples).most_common(6)]
    labelled = [e for e in examples if e.label in common][:120]
    unlabelled = [(e.title, e.text) for e in examples[600:750]]
    first = training.train(labelled, unlabelled=unlabelled).probabilities([("", "路灯不亮")])
    again = training.train(labelled, unlabelled=unlabelled).probabilities([("", "路灯不亮")])
    assert np.array_equal(first, again)


def test_cross_validation_pools_out_of_fold_predictions(examples: list[Example]) -> None:
    common = [label for label, n in Counter(e.label for e in examples).most_common(5)]
    subset = [e for e in examples if e.label in common][:200]
    figures = training.cross_validate(subset, 2, options=Options(self_training=False))
    assert figures.n == len(subset)
    assert figures.accuracy >= 0.7


def test_tree_paths_become_examples_of_the_deepest_label() -> None:
    tree = [
        ("城乡建设", "环卫", "垃圾清运"),
        ("城乡建设", "道路", "路灯不亮"),
        ("教育", "学前教育"),
    ]
    found = training.tree_examples(tree, {"城乡建设", "路灯不亮", "环卫"})
    assert ("垃圾清运", "环卫") in found
    assert ("环卫", "环卫") in found
    assert ("路灯不亮", "路灯不亮") in found
    assert ("道路", "路灯不亮") not in found  # above the label: not an example of it
    assert ("道路", "城乡建设") not in found  # that path has a deeper label
    assert not any(label == "学前教育" or name == "学前教育" for name, label in found)


@pytest.mark.parametrize(
    ("labels", "message"),
    [(["a", "a", "a"], "at least two labels"), (["a", "a", "b"], "at least two examples: b")],
)
def test_training_refuses_too_few_labels(labels: list[str], message: str) -> None:
    with pytest.raises(TrainingError, match=message):
        training.train([Example("", f"消息{i}", label) for i, label in enumerate(labels)])
