"""Cohere rerank export: format and rules."""

from __future__ import annotations

import json

import pytest

from ragtune.data.retrieval import RetrievalDataset
from ragtune.errors import DataValidationError
from ragtune.rerankers.export import cohere_rows, export_cohere_rerank


def _ds(**kw) -> RetrievalDataset:
    base = dict(queries={"q1": "roof height?", "q2": "fence colour?"},
                corpus={"a": "Roofs may be 8 m.", "b": "Fences are green.", "c": "Stairs need rails.", "a2": "Roofs may be 8 m."},
                relevant_docs={"q1": ["a"], "q2": ["b"]}, hard_negatives={"q1": ["c"], "q2": ["a", "c"]})
    base.update(kw)
    return RetrievalDataset(**base)


def test_writes_cohere_jsonl(tmp_path):
    stats = export_cohere_rerank(_ds(), tmp_path / "c.jsonl")
    rows = [json.loads(x) for x in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert rows[0] == {"query": "roof height?", "relevant_passages": ["Roofs may be 8 m."], "hard_negatives": ["Stairs need rails."]}
    assert rows[1]["hard_negatives"] == ["Roofs may be 8 m.", "Stairs need rails."]
    assert stats["queries"] == 2 and stats["hard_negatives"] == 3 and stats["warnings"]  # fewer than 256 examples


def test_a_positive_is_never_also_a_hard_negative_even_under_another_id(tmp_path):
    with pytest.raises(DataValidationError) as e:
        cohere_rows(_ds(hard_negatives={"q1": ["a2", "c"]}))
    assert "query 'q1'" in str(e.value) and "same text as a relevant passage" in str(e.value)
    assert not (tmp_path / "c.jsonl").exists()


def test_every_query_needs_a_positive(tmp_path):
    with pytest.raises(DataValidationError) as e:
        export_cohere_rerank(_ds(relevant_docs={"q1": ["a"], "q2": []}), tmp_path / "c.jsonl")
    assert "q2" in str(e.value) and "no relevant doc" in str(e.value)
    assert not (tmp_path / "c.jsonl").exists()
