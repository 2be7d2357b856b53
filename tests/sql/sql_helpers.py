"""Helpers of the text-to-SQL tests."""

from __future__ import annotations

import json


def spider_subset(spider_dir, tmp_path, n=12, dbs=("concert_singer", "pets_1")):
    """A small Spider-format file (n questions from each of `dbs`) and its path."""
    dev = json.loads((spider_dir / "dev.json").read_text(encoding="utf-8"))
    rows = [r for db in dbs for r in [x for x in dev if x["db_id"] == db][:n]]
    path = tmp_path / "subset.json"
    path.write_text(json.dumps([{"db_id": r["db_id"], "question": r["question"], "query": r["query"]} for r in rows]),
                    encoding="utf-8")
    return path, rows
