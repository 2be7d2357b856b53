"""`JsonShipEvaluator`: held-out structured-output examples that decide whether a tuned chat model ships.

A `ragtune.evaluation.protocols.TaskEvaluator` for `train_sft(evaluator=...)` / `ragtune train sft --eval-json
DATA`: the base model and the tuned candidate each answer every held-out chat greedily (as `ragtune eval json`
does: batched, at most 64 new tokens), each reply is checked against the JSON Schema and its fields against the
reference object (the chat's last assistant turn), and the paired bootstrap of field accuracy (the headline)
decides (`decide_gain`). The validation loss judges how well the model copies the reference tokens, not whether
the object validates or its fields are right; this judges that.

The schema is `schema` (a file), else the schema.json next to DATA (as `ragtune data faq-json` writes). The data
and the schema are read when the evaluator is made, so a bad file fails before training. The base's greedy
replies are cached across runs (`ragtune.evaluation.base_vs_tuned`); metrics.json's
`task_eval.settings.base_replies` says how many came from the cache. `constrained=True` (`--json-constrained`):
both models decode inside the schema (`ragtune.llm.constrained`), so the valid rate is decoding's and field
accuracy carries the decision.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ragtune.data.chat import load_chat
from ragtune.errors import InputError
from ragtune.evaluation.base_vs_tuned import BaseVsTuned
from ragtune.evaluation.json_output import HEADLINE, evaluate_json, json_references, read_schema
from ragtune.records import EvalReport

__all__ = ["JsonShipEvaluator", "EVAL_JSON"]

EVAL_JSON = "eval json"  # the decision's decided_by


class JsonShipEvaluator(BaseVsTuned):
    """Base vs tuned on held-out chat examples with reference JSON, by field accuracy (the headline)."""

    name = EVAL_JSON
    metric = HEADLINE

    def __init__(self, data: str | Path, schema: str | Path | None = None, *, max_tokens: int = 64, batch_size: int = 32,
                 bootstrap: int = 1000, seed: int = 0, device: str = "auto", llm=None, cache: bool = True,
                 constrained: bool = False):
        """`data`: chat JSONL whose last assistant turn is the reference JSON object. `schema`: the JSON Schema file
        (default: schema.json next to `data`). `llm(spec)` makes the model that answers (default: `LocalLLM(spec,
        batch_size, device)`, a LoRA folder merged into its base); a given factory's replies are never cached.
        `constrained`: the default models decode inside the schema."""
        self.data = str(data)
        path = Path(data).expanduser()
        self.schema_path = Path(schema).expanduser() if schema else path.parent / "schema.json"
        if schema is None and not self.schema_path.is_file():
            raise InputError(f"--eval-json {data}: no schema.json next to it; give the JSON Schema with --json-schema FILE.")
        self.schema = read_schema(self.schema_path)
        if constrained and llm is not None:
            raise ValueError("constrained=True constrains the default LocalLLM; a given llm factory decodes its own way "
                             "(make it return LocalLLM(spec, json_schema=...) instead)")
        self.constrained = constrained
        self.json_schema = self.schema if constrained else None
        self.examples = load_chat(path)
        json_references(self.examples)  # every example has a reference object, checked before training
        self.dataset = path.stem
        self.max_tokens, self.bootstrap, self.seed = max_tokens, bootstrap, seed
        self._models_setup(batch_size=batch_size, device=device, llm=llm, cache=cache)

    @property
    def settings(self) -> dict[str, Any]:
        """How base and tuned are judged (recorded in the run's metrics.json)."""
        return {"schema": str(self.schema_path), "max_new_tokens": self.max_tokens, "batch_size": self.batch_size,
                "bootstrap": self.bootstrap, "seed": self.seed,
                "decoding": "greedy, constrained to the JSON Schema" if self.constrained else "greedy", "base_replies": dict(self.base_replies)}

    def evaluate(self, base: str, tuned: str | Path) -> EvalReport:
        """The report on the held-out examples: "base" first, then "tuned" with its paired comparison."""
        return self.judge(base, tuned, lambda models: evaluate_json(
            self.examples, models, self.schema, dataset=self.dataset, max_tokens=self.max_tokens,
            concurrency=self.batch_size, bootstrap=self.bootstrap, seed=self.seed))
