"""The TF-IDF + logistic-regression baseline."""

from __future__ import annotations

import numpy as np
import pytest

from dalib.errors import DalibError
from dalib.text import TfidfLinear

POS = ["great book loved it", "loved the story great characters", "wonderful great read", "loved it wonderful",
       "great plot wonderful ending", "a great and wonderful story"]
NEG = ["terrible book hated it", "boring story awful characters", "awful boring read", "hated it terrible",
       "terrible plot boring ending", "an awful and boring story"]


def test_separable_toy_set() -> None:
    texts, y = POS + NEG, np.array([1] * len(POS) + [0] * len(NEG))
    model = TfidfLinear().fit(texts, y, texts_t=["great wonderful blender", "awful boring blender"])
    assert model.score(texts, y) >= 0.9
    test = ["a great wonderful blender", "an awful boring blender", "loved it", "hated it"]
    assert model.score(test, np.array([1, 0, 1, 0])) >= 0.9
    assert "blender" in model.vectorizer.vocabulary_  # unlabelled target texts join the vocabulary


def test_bad_input() -> None:
    with pytest.raises(DalibError, match="not fitted"):
        TfidfLinear().predict(["x"])
    with pytest.raises(DalibError, match="one label per text"):
        TfidfLinear().fit(POS, np.ones(3))
    with pytest.raises(DalibError, match="single class"):
        TfidfLinear().fit(POS, np.ones(len(POS)))
    with pytest.raises(DalibError, match="min_df"):
        TfidfLinear().fit(["a b", "c d"], np.array([0, 1]))
    with pytest.raises(DalibError, match="positive"):
        TfidfLinear(C=0)
