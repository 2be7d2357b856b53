"""Structured JSON outputs: is each reply valid JSON for the schema, and are its fields right?

`evaluate_json(examples, models, schema)` asks each model (greedy, batched) the conversation up to its
last assistant turn; that turn is the reference JSON object. Per model:
- `valid_rate`: the reply holds a JSON object (the first `{...}` in it, fenced or not) that validates
  against the JSON Schema (the `jsonschema` library);
- `field_accuracy.F`: the reply's value of field F equals the reference's (an invalid reply scores 0);
- `field_accuracy`: the mean over the reference's fields (the headline); `exact_match`: every field right.
95% bootstrap CIs; each model after the first is compared with it by a paired bootstrap on the headline
(`METRIC.delta` intervals for the others). The report is an `EvalReport` with task `json`; each result's
`decoding` says whether the model decoded freely or constrained to the schema (`LocalLLM(..., json_schema=)`,
`ragtune eval json --constrained`), where every finished reply validates by construction.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragtune.data.chat import ChatExample
from ragtune.errors import InputError
from ragtune.evaluation.metrics import bootstrap_ci, paired_comparison
from ragtune.llm import LLM, complete_many
from ragtune.records import Comparison, EvalReport, ModelResult, PerQuery

__all__ = ["extract_json", "evaluate_json", "json_references", "check_schema", "read_schema"]

HEADLINE = "field_accuracy"


def extract_json(reply: str) -> Any:
    """The first JSON object in a reply (inside a ``` fence or not); None when there is none."""
    decoder = json.JSONDecoder()
    i = reply.find("{")
    while i != -1:
        try:
            value, _ = decoder.raw_decode(reply, i)
            if isinstance(value, dict):
                return value
        except json.JSONDecodeError:
            pass
        i = reply.find("{", i + 1)
    return None


def check_schema(schema: Any) -> Any:
    """A usable JSON Schema, or InputError saying what is wrong with it."""
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.exceptions.SchemaError as e:
        raise InputError(f"not a valid JSON Schema: {e.message}") from None
    return schema


def read_schema(path: str | Path) -> Any:
    """The JSON Schema in a file, checked; InputError naming the file when it is missing, not JSON or not a schema."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"JSON Schema file {path} does not exist.")
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: not a JSON file ({e}).") from None
    return check_schema(schema)


def json_references(examples: Sequence[ChatExample]) -> list[tuple[list[dict[str, Any]], dict[str, Any]]]:
    """(prompt messages, reference object) per chat example: the last assistant turn must be a JSON object."""
    out = []
    for ex in examples:
        last = max((i for i, m in enumerate(ex.messages) if m["role"] == "assistant"), default=None)
        if last is None:
            raise InputError(f"{ex.location}: no assistant turn to use as the reference JSON.")
        try:
            ref = json.loads(ex.messages[last].get("content") or "")
        except json.JSONDecodeError as e:
            raise InputError(f"{ex.location}: the last assistant turn is not JSON ({e.msg}); eval json needs the reference "
                             "object there.") from None
        if not isinstance(ref, dict):
            raise InputError(f"{ex.location}: the reference must be a JSON object, got {type(ref).__name__}.")
        out.append((ex.messages[:last], ref))
    return out


def _score(reply: str, ref: dict[str, Any], validator) -> tuple[float, dict[str, float]]:
    obj = extract_json(reply)
    valid = obj is not None and validator.is_valid(obj)
    fields = {k: float(valid and obj.get(k) == v) for k, v in ref.items()}
    return float(valid), fields


def _decoding(llm: Any) -> str:
    """'greedy', or 'greedy, constrained to the JSON Schema' when the provider (or one it wraps) has a json_schema."""
    while llm is not None:
        if getattr(llm, "json_schema", None) is not None:
            return "greedy, constrained to the JSON Schema"
        llm = getattr(llm, "llm", None)
    return "greedy"


def evaluate_json(examples: Sequence[ChatExample], models: Mapping[str, LLM], schema: Any, *, dataset: str = "json",
                  max_tokens: int = 64, concurrency: int = 32, bootstrap: int = 1000, seed: int = 0) -> EvalReport:
    """Evaluate each model's JSON replies against `schema` and the references (task "json")."""
    import jsonschema

    if not models:
        raise InputError("give at least one --model to evaluate.")
    refs = json_references(examples)
    if not refs:
        raise InputError("no examples to evaluate.")
    validator = jsonschema.validators.validator_for(check_schema(schema))(schema)
    fields = list(dict.fromkeys(k for _, r in refs for k in r))
    results, values = [], {}
    for label, llm in models.items():
        t0 = time.perf_counter()
        outcomes = asyncio.run(complete_many(llm, [p for p, _ in refs], concurrency=concurrency, max_tokens=max_tokens))
        replies = [""] * len(refs)
        for o in outcomes:
            replies[o.index] = o.completion.text if o.completion is not None else ""
        gen_s = time.perf_counter() - t0
        v: dict[str, list[float]] = {"valid_rate": [], HEADLINE: [], "exact_match": [], **{f"{HEADLINE}.{f}": [] for f in fields}}
        for reply, (_, ref) in zip(replies, refs):
            valid, per = _score(reply, ref, validator)
            v["valid_rate"].append(valid)
            v[HEADLINE].append(sum(per.values()) / len(per) if per else valid)
            v["exact_match"].append(float(all(per.values()) and valid))
            for f in fields:
                v[f"{HEADLINE}.{f}"].append(per.get(f, float("nan")))
        metrics, ci95 = {}, {}
        for m, xs in v.items():
            arr = np.asarray(xs, dtype=float)
            arr = arr[~np.isnan(arr)]
            metrics[m] = float(arr.mean()) if len(arr) else float("nan")
            ci95[m] = list(bootstrap_ci(arr, bootstrap, seed))
        values[label] = v
        results.append(ModelResult(model=label, model_name=getattr(llm, "model", label), metrics=metrics, ci95=ci95,
                                   decoding=_decoding(llm),
                                   seconds={"generate": round(gen_s, 3), "examples_per_s": round(len(refs) / max(gen_s, 1e-9), 3)}))
    base = results[0].model
    for r in results[1:]:
        a, b = values[base], values[r.model]
        cmp = paired_comparison(np.asarray(a[HEADLINE]), np.asarray(b[HEADLINE]), bootstrap, seed)
        r.vs_first = Comparison(baseline=base, metric=HEADLINE, **cmp)
        for m in a:
            if m != HEADLINE and not m.startswith(f"{HEADLINE}."):
                r.ci95[f"{m}.delta"] = paired_comparison(np.asarray(a[m]), np.asarray(b[m]), bootstrap, seed)["ci95"]
        for f in fields:
            m = f"{HEADLINE}.{f}"
            xa, xb = np.asarray(a[m]), np.asarray(b[m])
            keep = ~np.isnan(xa)
            r.ci95[f"{m}.delta"] = paired_comparison(xa[keep], xb[keep], bootstrap, seed)["ci95"]
    per_query = PerQuery(query_ids=[ex.location for ex in examples],
                         **{m: {lab: vals[m] for lab, vals in values.items()} for m in ("valid_rate", HEADLINE)})
    return EvalReport(task="json", dataset=dataset, num_queries=len(refs), headline=HEADLINE, results=results,
                      per_query=per_query)
