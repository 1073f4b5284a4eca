"""A generated labelled corpus and one model trained on it, shared by the brain tests."""

from __future__ import annotations

import pytest

from cityops.brain import training
from cityops.brain.classifier import TextClassifier
from cityops.brain.training import Example
from cityops.demo import corpus


@pytest.fixture(scope="session")
def examples() -> list[Example]:
    return corpus.generate(1200, seed=11)


@pytest.fixture(scope="session")
def split(examples: list[Example]) -> tuple[list[Example], list[Example]]:
    return training.split(examples, 0.25)


@pytest.fixture(scope="session")
def model(split: tuple[list[Example], list[Example]]) -> TextClassifier:
    return training.train(split[0])
