"""`SqlShipEvaluator`: held-out text-to-SQL questions that decide whether a tuned chat model ships.

A `ragtune.evaluation.protocols.TaskEvaluator` for `train_sft(evaluator=...)` / `ragtune train sft --eval-sql
DATA`: the base model and the tuned candidate each answer every held-out question greedily (as `ragtune eval
sql` does: batched, one database at a time, at most 128 new tokens), the SQL runs on every synthetic fill of its
database, and the report's paired test-suite-accuracy comparison decides (`decide_gain`). Measured on Spider, the
validation loss is the wrong judge: a LoRA whose loss fell 0.525 -> 0.183 scored -0.018 [-0.068, +0.031]
test-suite accuracy on held-out databases.

The base model is the same on every run, so its greedy replies are kept in a `ragtune.llm.ReplyCache` under
`$RAGTUNE_HOME/cache/replies/` (keyed by the base model's files, an adapter's base's too, the batch size, the
resolved device, and the ragtune, torch and transformers versions; ~7 CPU minutes saved per run for
Qwen2.5-Coder-0.5B on 456 questions); `cache=False` turns
it off, and metrics.json's `task_eval.settings.base_replies` says how many came from the cache.

The data is read and its databases built when the evaluator is made, so a bad file fails before training.
The held-out databases must not be in the training chats (split by database, as `ragtune sql prepare` does).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ragtune.records import EvalReport
from ragtune.sql.build import DEFAULT_FILLS
from ragtune.sql.evaluate import HEADLINE, evaluate_sql, load_spider_data, prepare_items

__all__ = ["SqlShipEvaluator", "EVAL_SQL"]

EVAL_SQL = "eval sql"  # the decision's decided_by


class SqlShipEvaluator:
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
        self.fills, self.max_tokens, self.batch_size = fills, max_tokens, batch_size
        self.bootstrap, self.seed, self.device = bootstrap, seed, device
        self._llm = llm
        self.cache = cache
        # a given `llm` factory's replies need not follow from the model's files: never cached
        self.base_replies: dict[str, Any] = {"cache": "off"} if not cache or llm is not None else {}

    @property
    def settings(self) -> dict[str, Any]:
        """How base and tuned are judged (recorded in the run's metrics.json)."""
        return {"fills": self.fills, "rows": self.rows, "max_new_tokens": self.max_tokens, "batch_size": self.batch_size,
                "bootstrap": self.bootstrap, "seed": self.seed, "decoding": "greedy", "base_replies": dict(self.base_replies)}

    def make_llm(self, spec: str):
        if self._llm is not None:
            return self._llm(spec)
        from ragtune.llm import LocalLLM

        return LocalLLM(spec, batch_size=self.batch_size, device=self.device)

    def evaluate(self, base: str, tuned: str | Path) -> EvalReport:
        """The report on the held-out questions: "base" first, then "tuned" with its paired comparison."""
        base_llm = self.make_llm(base)
        cached = self._cached(base, base_llm) if self.cache and self._llm is None else None
        models = {"base": cached or base_llm, "tuned": self.make_llm(str(tuned))}
        report, _ = evaluate_sql(self.items, models, dataset=self.dataset, max_tokens=self.max_tokens,
                                 concurrency=self.batch_size, rows=self.rows, bootstrap=self.bootstrap, seed=self.seed)
        if cached is not None:
            self.base_replies = {"cache": str(cached.path), "cached": cached.hits, "generated": cached.misses}
        return report

    def _cached(self, spec: str, llm):
        """`llm` behind a ReplyCache keyed by what its greedy replies depend on; None (recorded) when the model's
        files cannot be found to key it."""
        from ragtune.assets import base_of, model_folder, ragtune_home
        from ragtune.device import resolve_device
        from ragtune.errors import RagtuneError
        from ragtune.llm import ReplyCache

        try:
            folder, base_folder = model_folder(spec), base_of(spec)
            device = resolve_device(self.device)
        except (RagtuneError, OSError) as e:
            self.base_replies = {"cache": f"off: {e}"}
            return None
        identity = {"model": str(folder), "files": _files(folder), "base_files": _files(base_folder) if base_folder != folder else [],
                    "batch_size": self.batch_size, "device": _device_name(device), "versions": _versions()}
        key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]
        return ReplyCache(llm, ragtune_home() / "cache" / "replies" / f"{key}.jsonl", identity)


def _files(folder: Path) -> list[tuple[str, int, int]]:
    """(name, size, mtime in ns) of each file of a model folder: a changed weight file is a different model."""
    return sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file())


def _device_name(device: str) -> str:
    """The device and what it computes in (LocalLLM loads bf16 on CUDA, float32 elsewhere): 'cpu', 'cuda:NVIDIA H200'."""
    import torch

    return f"cuda:{torch.cuda.get_device_name()}" if device.startswith("cuda") else device


def _versions() -> dict[str, str]:
    """What decodes: ragtune's own code (chat template, stop tokens, prefix sharing), torch and transformers."""
    import torch
    import transformers

    import ragtune

    return {"ragtune": ragtune.__version__, "torch": torch.__version__, "transformers": transformers.__version__}


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
