"""`SqlShipEvaluator`: held-out text-to-SQL questions that decide whether a tuned chat model ships.

A `ragtune.evaluation.protocols.TaskEvaluator` for `train_sft(evaluator=...)` / `ragtune train sft --eval-sql
DATA`: the base model and the tuned candidate each answer every held-out question greedily (as `ragtune eval
sql` does: batched, one database at a time, at most 128 new tokens), the SQL runs on every synthetic fill of its
database, and the report's paired test-suite-accuracy comparison decides (`decide_gain`). Measured on Spider, the
validation loss is the wrong judge: a LoRA whose loss fell 0.525 -> 0.183 scored -0.018 [-0.068, +0.031]
test-suite accuracy on held-out databases.

The base model is the same on every run, so its greedy replies are cached across runs
(`ragtune.evaluation.base_vs_tuned`; ~7 CPU minutes saved per run for Qwen2.5-Coder-0.5B on 456 questions);
`cache=False` turns it off, and metrics.json's `task_eval.settings.base_replies` says how many came from the cache.

The data is read and its databases built when the evaluator is made, so a bad file fails before training.
The held-out databases must not be in the training chats (split by database, as `ragtune sql prepare` does).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ragtune.evaluation.base_vs_tuned import BaseVsTuned
from ragtune.records import EvalReport
from ragtune.sql.build import DEFAULT_FILLS
from ragtune.sql.evaluate import HEADLINE, evaluate_sql, load_spider_data, prepare_items

__all__ = ["SqlShipEvaluator", "EVAL_SQL"]

EVAL_SQL = "eval sql"  # the decision's decided_by


class SqlShipEvaluator(BaseVsTuned):
    """Base vs tuned on held-out Spider-format questions, by test-suite accuracy (the headline)."""

    name = EVAL_SQL
    metric = HEADLINE

    def __init__(self, data: str | Path, tables: str | Path | None = None, *, fills: int = DEFAULT_FILLS, rows: int | None = None,
                 max_tokens: int = 128, batch_size: int = 32, bootstrap: int = 1000, seed: int = 0, device: str = "auto",
                 llm=None, cache: bool = True):
        """`data`: 'spider-dev' or a Spider-format JSON/JSONL of {db_id, question, query} (schemas from `tables`, else
        Spider's tables.json; generated pairs with db_path run on their own file). `rows`: sample rows per table in
        the prompt, as the training chats were written; None reads it from the split.json that `ragtune sql
        prepare` wrote next to `data` (0 when there is none). `llm(spec)` makes the model that answers (default:
        `LocalLLM(spec, batch_size, device)`; a LoRA folder is merged into its base). `cache`: reuse the base's
        greedy replies across runs (see the module doc)."""
        self.data = str(data)
        examples, self.dataset = load_spider_data(self.data, tables)
        self.items = prepare_items(examples, fills=fills, seed=seed)
        self.rows = _prepared_rows(self.data) if rows is None else rows
        self.fills, self.max_tokens, self.bootstrap, self.seed = fills, max_tokens, bootstrap, seed
        self._models_setup(batch_size=batch_size, device=device, llm=llm, cache=cache)

    @property
    def settings(self) -> dict[str, Any]:
        """How base and tuned are judged (recorded in the run's metrics.json)."""
        return {"fills": self.fills, "rows": self.rows, "max_new_tokens": self.max_tokens, "batch_size": self.batch_size,
                "bootstrap": self.bootstrap, "seed": self.seed, "decoding": "greedy", "base_replies": dict(self.base_replies)}

    def evaluate(self, base: str, tuned: str | Path) -> EvalReport:
        """The report on the held-out questions: "base" first, then "tuned" with its paired comparison."""
        return self.judge(base, tuned, lambda models: evaluate_sql(
            self.items, models, dataset=self.dataset, max_tokens=self.max_tokens, concurrency=self.batch_size,
            rows=self.rows, bootstrap=self.bootstrap, seed=self.seed)[0])


def _prepared_rows(data: str) -> int:
    """The sample rows per table that `ragtune sql prepare` put in the prompts of DATA's folder (its split.json)."""
    split = Path(data).expanduser().parent / "split.json"
    if data == "spider-dev" or not split.is_file():
        return 0
    try:
        rows = json.loads(split.read_text(encoding="utf-8")).get("rows", 0)
    except (OSError, ValueError, AttributeError):
        return 0
    return rows if isinstance(rows, int) and rows >= 0 else 0
