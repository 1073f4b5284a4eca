from __future__ import annotations

from collections import Counter

from cityops.brain import text


def test_normalise_folds_width_whitespace_and_case() -> None:
    assert (
        text.normalise("  ＡＢＣ１２３，路灯\t不亮\n\n  Street　LIGHT ")
        == "abc123,路灯 不亮 street light"
    )


def test_features_hold_words_ngrams_and_english_without_stop_words() -> None:
    found = text.features("", "五一大道的路灯不亮了 The street light is broken")
    assert "路灯" in found  # a jieba word (and a bigram)
    assert {"路", "灯不", "路灯不"} <= set(found)  # character 1..3-grams
    assert {"street", "light", "broken"} <= set(found)
    assert "the" not in found
    assert "is" not in found
    assert "的" not in text.words(text.normalise("五一大道的路灯"))


def test_title_counts_more_than_the_body() -> None:
    both = Counter(text.features("井盖破损", "井盖破损"))
    body = Counter(text.features("", "井盖破损"))
    assert both["井盖"] == (text.TITLE_WEIGHT + 1) * body["井盖"]


def test_every_feature_is_a_substring_of_the_normalised_message() -> None:
    title, body = "芙蓉中路噪音扰民！", "晚上酒吧放音乐到凌晨，ＫＴＶ也很吵"
    message = text.normalise(title) + " " + text.normalise(body)
    assert all(feature in message for feature in text.features(title, body))


def test_empty_message_has_no_features() -> None:
    assert text.features("", "  \n ") == []
    assert text.features("!!!", "。。。") == []
