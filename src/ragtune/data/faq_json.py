"""The bundled structured-output example: construction-faq questions -> {"category", "related_service"}.

Each FAQ row's user question is the input and its own human labels are the reference object: the
category (39 values) and the related service (a slug, or null when the FAQ names none). The split is
seeded and stratified by category (each category with two or more rows has some on both sides), so
every category is seen in training. Output: train.jsonl, test.jsonl (chat rows: system, user, the
reference JSON as the assistant turn; what `train sft` and `eval json` read), schema.json (a JSON
Schema: category one of the 39, related_service a string or null, both required, nothing else) and
split.json (seed, share, counts).
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from ragtune.errors import InputError
from ragtune.io import atomic_write_json, atomic_write_jsonl

__all__ = ["faq_json_rows", "faq_json_schema", "write_faq_json"]


def _system(categories: list[str]) -> str:
    return ("Classify the user's question about building and renovation in Sweden. Reply with one JSON object and nothing "
            'else: {"category": C, "related_service": S}, where C is one of: ' + ", ".join(categories)
            + '; and S is a short service slug (like "bygglov-radgivning") or null.')


def faq_json_schema(categories: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": {"category": {"enum": categories},
                                             "related_service": {"type": ["string", "null"]}},
            "required": ["category", "related_service"], "additionalProperties": False}


def faq_json_rows(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """(chat rows with their category, the sorted categories) from FAQ rows (q, category, related_service)."""
    categories = sorted({r["category"] for r in rows})
    system = _system(categories)
    out = []
    for r in rows:
        ref = json.dumps({"category": r["category"], "related_service": r.get("related_service")}, ensure_ascii=False)
        out.append({"messages": [{"role": "system", "content": system}, {"role": "user", "content": r["q"].strip()},
                                 {"role": "assistant", "content": ref}], "category": r["category"]})
    return out, categories


def write_faq_json(output: str | Path, *, test_share: float = 0.3, seed: int = 0, path: str | Path | None = None) -> dict[str, Any]:
    """Write the example's files into `output`; returns the split record."""
    if not 0 < test_share < 1:
        raise InputError(f"--test-share must be between 0 and 1 (got {test_share}).")
    if path is None:
        from ragtune.assets import asset_path

        path = asset_path("construction-faq")
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    chats, categories = faq_json_rows(rows)
    by_cat: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(chats):
        by_cat[c["category"]].append(i)
    rng = random.Random(seed)
    test: set[int] = set()
    for cat in sorted(by_cat):
        idx = by_cat[cat][:]
        rng.shuffle(idx)
        n = min(len(idx) - 1, max(1, round(len(idx) * test_share))) if len(idx) > 1 else 0
        test.update(idx[:n])
    strip = lambda c: {"messages": c["messages"]}  # noqa: E731
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    train_rows = [strip(c) for i, c in enumerate(chats) if i not in test]
    test_rows = [strip(c) for i, c in enumerate(chats) if i in test]
    atomic_write_jsonl(out / "train.jsonl", train_rows)
    atomic_write_jsonl(out / "test.jsonl", test_rows)
    atomic_write_json(out / "schema.json", faq_json_schema(categories))
    record = {"seed": seed, "test_share": test_share, "stratified_by": "category", "categories": len(categories),
              "train_examples": len(train_rows), "test_examples": len(test_rows), "source": str(path)}
    atomic_write_json(out / "split.json", record)
    return record
