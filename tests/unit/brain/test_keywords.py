"""The keyword classifier: title counts more than text, shared terms split, confidence is a
share of the evidence, the words are the matched terms."""

from __future__ import annotations

from cityops.brain.keywords import CategoryTerms, KeywordClassifier
from cityops.brain.schemas import Classifier
from cityops.cases.catalogue import load_default_catalogue

RUBBISH = CategoryTerms("E-01-02", ("暴露垃圾", "Exposed rubbish", "垃圾", "路边垃圾"))
COVER = CategoryTerms("B-01-01", ("上水井盖", "Water supply manhole cover", "井盖", "井盖缺失"))
SEWER = CategoryTerms("B-01-02", ("污水井盖", "Sewage manhole cover", "井盖", "污水冒出"))


def _clf() -> KeywordClassifier:
    return KeywordClassifier([RUBBISH, COVER, SEWER])


def test_it_is_a_classifier_with_sorted_labels() -> None:
    clf: Classifier = _clf()
    assert clf.labels == ("B-01-01", "B-01-02", "E-01-02")


def test_a_clear_message_ranks_its_category_first_with_the_words() -> None:
    [top, *rest] = _clf().suggest("路边垃圾", "路边垃圾好多，暴露垃圾发臭")
    assert top.label == "E-01-02"
    assert top.words[0] in {"路边垃圾", "暴露垃圾"}
    assert set(top.words) == {"路边垃圾", "暴露垃圾", "垃圾"}
    assert rest == []
    assert 0.8 < top.confidence < 1


def test_the_title_weighs_more_than_the_text() -> None:
    in_title = _clf().suggest("井盖缺失", "")[0]
    in_text = _clf().suggest("", "井盖缺失")[0]
    assert in_title.label == in_text.label == "B-01-01"
    assert in_title.confidence > in_text.confidence


def test_a_shared_term_splits_and_stays_unsure() -> None:
    found = _clf().suggest("", "门口的井盖不太对劲")
    assert {s.label for s in found} == {"B-01-01", "B-01-02"}
    assert found[0].confidence == found[1].confidence < 0.3
    assert sum(s.confidence for s in found) < 1


def test_english_names_match_case_insensitively_and_k_limits() -> None:
    found = _clf().suggest("EXPOSED RUBBISH", "sewage manhole cover", k=1)
    assert [s.label for s in found] == ["E-01-02"]


def test_no_match_answers_nothing() -> None:
    assert _clf().suggest("你好", "谢谢") == []


def test_the_default_catalogue_routes_typical_reports() -> None:
    catalogue = load_default_catalogue()
    clf = KeywordClassifier(
        CategoryTerms(leaf.code, (leaf.name_zh, leaf.name_en, *leaf.keywords_zh))
        for leaf in catalogue.leaves
    )
    assert clf.suggest("路边垃圾没人清", "小区门口暴露垃圾发臭")[0].label == "E-01-02"
    assert clf.suggest("污水冒出", "污水井盖破了，污水冒出来")[0].label == "B-01-02"
