"""Ship rules: each job's rule, one record (`ragtune.records.ShipDecision`).

- `decide_gain`: the tuned embedder ships when it beats the base on ndcg@10 on the deciding data (any gain);
- `decide_clear_gain`: a reranker costs latency on every query, so it ships only on a clear gain (the paired
  95% CI of its ndcg@10 gain above zero);
- `decide_lower_loss`: a chat model ships when its validation loss is lower than the base's.

The deciding data is the real held-out queries when given (`eval dataset`), else the validation split.
"""

from __future__ import annotations

from ragtune.records import EvalReport, ShipDecision

__all__ = ["VALIDATION", "EVAL_DATASET", "deciding_report", "decide_gain", "decide_clear_gain", "decide_lower_loss"]

VALIDATION = "validation split"
EVAL_DATASET = "eval dataset"


def deciding_report(val_report: EvalReport, eval_report: EvalReport | None) -> tuple[EvalReport, str]:
    """The report that decides (real queries win over the synthetic validation split) and what it is."""
    return (eval_report, EVAL_DATASET) if eval_report is not None else (val_report, VALIDATION)


def _where(report: EvalReport, decided_by: str) -> str:
    return f"{report.dataset} ({decided_by})"


def decide_gain(report: EvalReport, decided_by: str, candidate: str) -> ShipDecision:
    """Ship if `candidate` beats the report's baseline on its headline metric at all."""
    cmp = report.comparison(candidate)
    lo, hi = cmp.ci95
    measured = f"{cmp.metric} {cmp.delta:+.4f} [{lo:+.4f}, {hi:+.4f}]"
    ship = cmp.delta > 0
    reason = (f"{candidate} beats base on {_where(report, decided_by)}: {measured}" if ship else
              f"REFUSED TO SHIP: {candidate} is not better than base on {_where(report, decided_by)}: {measured}; "
              "the base model stays the result.")
    return ShipDecision(shipped=ship, model=candidate, decided_by=decided_by, dataset=report.dataset, metric=cmp.metric,
                        delta=cmp.delta, ci95=[lo, hi], rule="gain", reason=reason)


def decide_clear_gain(report: EvalReport, decided_by: str, candidate: str, allow_regression: bool = False) -> ShipDecision:
    """Ship only if the paired 95% CI of `candidate`'s gain over the baseline lies above zero (or when forced)."""
    cmp = report.comparison(candidate)
    lo, hi = cmp.ci95
    measured = (f"{cmp.metric} {cmp.delta:+.4f} versus the retriever alone on {_where(report, decided_by)} "
                f"(95% CI {lo:+.4f}..{hi:+.4f})")
    if lo > 0:
        ship, reason = True, f"reranking improves {measured}"
    elif allow_regression:
        ship, reason = True, f"shipped without a clear gain, {measured} (allow_regression)"
    else:
        worse = "worse than no reranking" if cmp.delta < 0 else "not clearly better than no reranking"
        ship, reason = False, (f"REFUSED TO SHIP: {measured}: {worse}, so no model/ was written; try more or cleaner data, "
                               "--teacher, more epochs, or --allow-regression to inspect it anyway")
    return ShipDecision(shipped=ship, model=candidate, decided_by=decided_by, dataset=report.dataset, metric=cmp.metric,
                        delta=cmp.delta, ci95=[lo, hi], rule="clear_gain", reason=reason)


def decide_lower_loss(base_loss: float | None, tuned_loss: float | None, dataset: str, allow_regression: bool = False,
                      candidate: str = "tuned") -> ShipDecision:
    """Ship if the validation loss went down (no validation data: ship, and say nothing was measured)."""
    if base_loss is None or tuned_loss is None:
        return ShipDecision(shipped=True, model=candidate, decided_by=VALIDATION, dataset=dataset, metric="val_loss", delta=None,
                            ci95=None, rule="lower_loss", reason="no validation split, so nothing was measured; model/ written")
    delta = tuned_loss - base_loss
    measured = f"validation loss {base_loss:.4f} -> {tuned_loss:.4f}"
    if delta < 0:
        ship, reason = True, f"{measured} ({-delta / base_loss:.1%} lower); model/ written"
    elif allow_regression:
        ship, reason = True, f"{measured}: did not improve; model/ written anyway (allow_regression)"
    else:
        ship, reason = False, (f"REFUSED TO SHIP: {measured}: validation loss did not improve; model/ was not written. "
                               "Rerun with --allow-regression to keep it anyway.")
    return ShipDecision(shipped=ship, model=candidate, decided_by=VALIDATION, dataset=dataset, metric="val_loss", delta=delta,
                        ci95=None, rule="lower_loss", reason=reason)
