from __future__ import annotations

import numpy as np
import pytest

from ragtune.data.retrieval import RetrievalDataset, check
from ragtune.errors import InputError
from ragtune.generate.negatives import mine_hard_negatives


class TableEmbedder:
    """Vectors chosen by hand so the ranking and scores are known exactly."""

    name = "table"

    def __init__(self, vecs: dict[str, list[float]]):
        self.vecs = vecs

    def encode(self, texts, kind="document", batch_size=64, show_progress=False):
        rows = np.array([self.vecs[t] for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def dataset() -> RetrievalDataset:
    return RetrievalDataset(queries={"q": "query"}, relevant_docs={"q": ["pos"]},
                            corpus={"pos": "positive", "twin": "near twin", "a": "doc a", "b": "doc b", "c": "doc c",
                                    "dup": "positive "})


EMB = TableEmbedder({
    "query": [1, 0, 0], "positive": [0.9, 0.1, 0], "positive ": [0.9, 0.1, 0], "near twin": [0.89, 0.1, 0],
    "doc a": [0.7, 0.7, 0], "doc b": [0.5, 0.8, 0], "doc c": [0.1, 0.1, 1],
})


def test_margin_guard_same_text_and_order():
    mined, stats = mine_hard_negatives(dataset(), EMB, num_negatives=2, margin=0.95)
    assert mined.hard_negatives == {"q": ["a", "b"]}
    assert stats["dropped"] == {"same_text_as_positive": 1, "above_margin": 1}
    assert check(mined)


def test_no_margin_and_skip_top():
    mined, _ = mine_hard_negatives(dataset(), EMB, num_negatives=2, margin=None)
    assert mined.hard_negatives["q"] == ["twin", "a"]
    mined, stats = mine_hard_negatives(dataset(), EMB, num_negatives=2, margin=None, skip_top=2)
    assert mined.hard_negatives["q"] == ["a", "b"] and stats["dropped"]["skipped_top"] == 2


def test_short_of_target_is_reported():
    mined, stats = mine_hard_negatives(dataset(), EMB, num_negatives=5, margin=0.95)
    assert len(mined.hard_negatives["q"]) == 3 and stats["short_of_target"] == 1


def test_bad_arguments():
    with pytest.raises(InputError, match="margin"):
        mine_hard_negatives(dataset(), EMB, margin=5)
    with pytest.raises(InputError, match="num-negatives"):
        mine_hard_negatives(dataset(), EMB, num_negatives=0)
