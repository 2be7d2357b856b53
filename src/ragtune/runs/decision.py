"""Ship rules: each job's rule, one record (`ragtune.records.ShipDecision`) with one of three verdicts.

- `decide_gain` (embedding fine-tune, adapter, reranker): before judging, the deciding data must be able
  to judge. It cannot when too few queries rank differently under the candidate and the base (fewer than
  `MIN_CHANGED`), or when the paired 95% CI of the ndcg@10 difference includes zero: a gain cannot be told
  from noise. Then the verdict is `cannot_judge`: the base stays the result, and the reason says how to get
  data that can judge. Otherwise the candidate ships on a gain (CI above zero) and is refused on a loss (CI
  below zero). It never ships or refuses on a tie.
  Synthetic validation alone never ships a candidate: a gain there becomes `cannot_judge` too
  (`ship_on_validation=True` lifts this, e.g. for the teacher check, whose mistake costs no shipped model).
  Measured on construction-faq, with its human questions judging afterwards (bench/ship_decisions.py,
  bench/RESULTS.md): synthetic validation has disagreed with real users' questions in both directions: it saw
  no gain for an adapter that real questions put at +0.059, and a clear gain (+0.049 [+0.008, +0.093]) for one
  they put at -0.011 [-0.027, +0.004]. It can still refuse (a clear loss) or say it cannot judge.
- `decide_lower_loss` (chat SFT): the tuned model ships when its validation loss is lower than the base's.

The deciding data is the real held-out queries when given (`eval dataset`), else the validation split.
Synthetic validation questions copy their passage's words, so the base often ranks nearly all of them
first: the `evidence` of a decision (base score and median rank, queries that changed, CI width) shows how
much the data could say.
"""

from __future__ import annotations

import math
from typing import Any

from ragtune.records import EvalReport, ShipDecision

__all__ = ["VALIDATION", "EVAL_DATASET", "MIN_CHANGED", "LABEL_HINT", "deciding_report", "deciding_data", "decide_gain",
           "decide_lower_loss", "queries_to_decide"]

VALIDATION = "validation split"
EVAL_DATASET = "eval dataset"
MIN_CHANGED = 10  # fewer queries ranked differently than this cannot tell a gain from noise
LABEL_HINT = ("To decide on real queries, label 30-50 of your users' queries (a few seconds each): "
              "`ragtune label QUERIES.txt --corpus DOCS -o real.json`, then rerun with --eval-dataset real.json.")


def deciding_report(val_report: EvalReport, eval_report: EvalReport | None) -> tuple[EvalReport, str]:
    """The report that decides (real queries win over the synthetic validation split) and what it is."""
    return (eval_report, EVAL_DATASET) if eval_report is not None else (val_report, VALIDATION)


def deciding_data(val, evalset) -> tuple[Any, str]:
    """The dataset that decides (real queries when given, else the validation split) and what it is."""
    return (evalset, EVAL_DATASET) if evalset is not None else (val, VALIDATION)


def evidence(report: EvalReport, candidate: str) -> dict[str, float | int | None]:
    """How much the deciding data can say about `candidate`: the base's score and median rank, how many
    queries changed (won or lost), and the width of the paired 95% CI."""
    cmp = report.comparison(candidate)
    base = report.results[0].metrics
    return {"queries": report.num_queries, "changed": cmp.wins + cmp.losses, "wins": cmp.wins, "losses": cmp.losses,
            "base_score": base.get(cmp.metric), "base_median_rank": base.get("median_rank"),
            "ci_width": cmp.ci95[1] - cmp.ci95[0]}


def queries_to_decide(ev: dict[str, Any], delta: float, min_changed: int = MIN_CHANGED) -> int | None:
    """About how many labelled queries in all would let the rule decide, if the candidate's effect per query
    stays as measured: enough for `min_changed` of them to rank differently, and for the paired 95% CI (whose
    half-width shrinks as 1/sqrt(n)) to end short of zero. None when there is no gain to confirm (delta <= 0).

    A projection, not a promise: with 40 FAQ questions the adapter measured +0.024 [-0.027, +0.080] where the
    other 456 put it at +0.057, so the gain may turn out larger (fewer needed) or smaller (more)."""
    n, changed = ev["queries"], ev["changed"]
    if not n or not changed or delta <= 0:
        return None
    half = ev["ci_width"] / 2
    need_ci = math.ceil(n * (half / delta) ** 2 * 1.1)  # 10% margin over the bare projection
    return max(n + 1, need_ci, math.ceil(min_changed * n / changed))


def decide_gain(report: EvalReport, decided_by: str, candidate: str, *, allow_regression: bool = False,
                versus: str = "base", min_changed: int = MIN_CHANGED, ship_on_validation: bool = False) -> ShipDecision:
    """Ship on a clear gain over the report's baseline, refuse on a clear loss, else cannot judge (see module doc).
    A gain on the synthetic validation split alone is `cannot_judge` unless `ship_on_validation`.
    `allow_regression` ships whatever the data says (and says so)."""
    cmp = report.comparison(candidate)
    lo, hi = cmp.ci95
    ev = evidence(report, candidate)
    where = f"{report.dataset} ({decided_by})"
    measured = f"{cmp.metric} {cmp.delta:+.4f} [{lo:+.4f}, {hi:+.4f}] versus {versus} on {where}, {cmp.wins} won / {cmp.losses} lost"
    base_note = f"the base scores {ev['base_score']:.3f}" + (f", median rank {ev['base_median_rank']:.0f}"
                                                              if ev["base_median_rank"] is not None else "")
    if ev["changed"] < min_changed:
        verdict = "cannot_judge"
        differ = "rank differently" if report.task in ("retrieval", "rerank") else "score differently"
        why = (f"CANNOT JUDGE: only {ev['changed']} of {ev['queries']} queries on {where} {differ} under "
               f"{candidate} and {versus} ({measured}; {base_note}): too few to tell a gain from noise.")
    elif lo > 0 and decided_by == VALIDATION and not ship_on_validation:
        verdict = "cannot_judge"
        why = (f"CANNOT JUDGE: {candidate} looks better on synthetic validation ({measured}), but synthetic questions "
               "have disagreed with real users' questions in both directions, so they alone never ship a model; the "
               "candidate stays in its stage folder for you to check.")
    elif lo > 0:
        verdict, why = "ship", f"{candidate} beats {versus}: {measured}."
    elif hi < 0:
        verdict, why = "refuse", f"REFUSED TO SHIP: {candidate} is worse than {versus}: {measured}."
    else:
        verdict = "cannot_judge"
        why = (f"CANNOT JUDGE: the 95% CI includes zero, so a gain cannot be told from noise: {measured} ({base_note}).")
    if verdict != "ship" and allow_regression:
        verdict, why = "ship", f"shipped anyway (allow_regression): {why}"
    elif verdict == "cannot_judge":
        ev["queries_to_decide"] = queries_to_decide(ev, cmp.delta, min_changed) if decided_by == EVAL_DATASET else None
        if decided_by == VALIDATION:
            why += f" The base model stays the result. {LABEL_HINT}"
        elif ev["queries_to_decide"]:
            why += (f" The base model stays the result. If the gain per query holds, about {ev['queries_to_decide']} labelled "
                    f"queries in all ({ev['queries_to_decide'] - ev['queries']} more) would decide it: label more with "
                    "`ragtune label` and rerun.")
        else:
            why += " The base model stays the result."
    elif verdict == "refuse":
        why += " The base model stays the result."
    return ShipDecision(shipped=verdict == "ship", verdict=verdict, model=candidate, decided_by=decided_by, dataset=report.dataset,
                        metric=cmp.metric, delta=cmp.delta, ci95=[lo, hi], rule="gain", reason=why, evidence=ev)


def decide_lower_loss(base_loss: float | None, tuned_loss: float | None, dataset: str, allow_regression: bool = False,
                      candidate: str = "tuned") -> ShipDecision:
    """Ship if the validation loss went down (no validation data: ship, and say nothing was measured)."""
    common = {"model": candidate, "decided_by": VALIDATION, "dataset": dataset, "metric": "val_loss", "ci95": None,
              "rule": "lower_loss"}
    if base_loss is None or tuned_loss is None:
        return ShipDecision(shipped=True, verdict="ship", delta=None, reason="no validation split, so nothing was measured; "
                            "model/ written", **common)
    delta = tuned_loss - base_loss
    measured = f"validation loss {base_loss:.4f} -> {tuned_loss:.4f}"
    if delta < 0:
        verdict, reason = "ship", f"{measured} ({-delta / base_loss:.1%} lower); model/ written"
    elif allow_regression:
        verdict, reason = "ship", f"{measured}: did not improve; model/ written anyway (allow_regression)"
    else:
        verdict, reason = "refuse", (f"REFUSED TO SHIP: {measured}: validation loss did not improve; model/ was not written. "
                                     "Rerun with --allow-regression to keep it anyway.")
    return ShipDecision(shipped=verdict == "ship", verdict=verdict, delta=delta, reason=reason, **common)
