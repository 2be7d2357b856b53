"""What every training job shares: the run folder (`Run`), the ship decision, the training curve, the card.

A job supplies its configuration, its rule and its content; `Run` does the rest:

    with Run(cfg.output, "embedding", cfg) as run:
        if (done := run.finished()) is not None:
            return done                       # same configuration, already finished
        run.start()                           # config.json
        ...train, resuming from run.last_checkpoint()...
        decision = decide_gain(*deciding_report(val_report, eval_report), "finetuned")
        run.ship(decision, lambda folder: model.save_pretrained(str(folder)))
        return run.finish(metrics_fields, card_text)

See docs/architecture.md for the folder layout and the metrics.json schema.
"""

from ragtune.runs.card import card
from ragtune.runs.decision import decide_gain, decide_lower_loss, deciding_data, deciding_report
from ragtune.runs.folder import Run, training_curve
from ragtune.runs.inputs import job_config

__all__ = ["Run", "training_curve", "decide_gain", "decide_lower_loss", "deciding_report", "deciding_data", "card", "job_config"]
