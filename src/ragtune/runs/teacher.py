"""Check the teacher before distilling it: a teacher that is not clearly better than the student on the deciding
data can only teach the student its own mistakes (on a held-out domain, mpnet ranked worse than minilm)."""

from __future__ import annotations

import logging
from typing import Any, Literal

from ragtune.data.retrieval import RetrievalDataset
from ragtune.errors import InputError
from ragtune.evaluation.protocols import Encoder
from ragtune.evaluation.retrieval import evaluate_retrieval
from ragtune.runs.decision import decide_gain

__all__ = ["TeacherCheck", "check_teacher"]

log = logging.getLogger(__name__)
TeacherCheck = Literal["drop", "stop", "off"]


def check_teacher(student: Encoder, teacher: Encoder | None, data: RetrievalDataset, decided_by: str,
                  policy: TeacherCheck = "drop") -> tuple[Encoder | None, dict[str, Any] | None]:
    """(the teacher to use, or None; the check's record). The teacher is used only when it beats the student with a
    paired 95% CI above zero on `data` (the same data and rule that decide what ships). Otherwise `policy` 'drop'
    trains without it and says so, 'stop' refuses to train, 'off' skips the check."""
    if teacher is None or policy == "off":
        return teacher, None
    report = evaluate_retrieval(data, {"student": student, "teacher": teacher})
    d = decide_gain(report, decided_by, "teacher", versus=student.name, ship_on_validation=True)
    lo, hi = d.ci95
    verdict = {"ship": "clearly better", "refuse": "clearly worse", "cannot_judge": "not clearly better (the data cannot tell)"}
    said = (f"teacher {teacher.name} vs student {student.name} on {data.name} ({decided_by}): ndcg@10 {d.delta:+.4f} "
            f"[{lo:+.4f}, {hi:+.4f}], {d.evidence['wins']} won / {d.evidence['losses']} lost: {verdict[d.verdict]}")
    record = {"policy": policy, "verdict": d.verdict, "used": d.verdict == "ship", "dataset": data.name, "decided_by": decided_by,
              "delta": d.delta, "ci95": [lo, hi], "evidence": d.evidence, "reason": said}
    if d.verdict == "ship":
        log.info("%s; distilling it", said)
        return teacher, record
    if policy == "stop":
        raise InputError(f"{said}. Distilling it could only copy its mistakes, so training stopped (--teacher-check stop); "
                         "use --teacher-check drop to train without it, or give data that can judge (--eval-dataset).")
    log.warning("%s; training WITHOUT the teacher (--teacher-check off keeps it)", said)
    return None, {**record, "reason": said + "; trained without it"}
