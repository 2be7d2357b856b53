"""Count the battery's outcomes in real processes (`python -m ragtune.cli.main`, each with a time limit):

    PYTHONPATH=src python tests/bad_inputs/summary.py [--timeout 60] [--in-process] [--json out.json] [-k SUBSTRING]

Prints one line per case that is not `clear`, then the count of each outcome (clear, traceback, exit 0,
misleading, not one error line, half-written, timeout)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bad_inputs import fixtures as fx  # noqa: E402
from bad_inputs.cases import CASES  # noqa: E402
from bad_inputs.runner import OUTCOMES, argv_of, judge, run_in_process, run_subprocess  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--in-process", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("-k", default="")
    a = ap.parse_args()
    counts: Counter = Counter()
    rows = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        files = fx.build(Path(tmp) / "files")
        try:
            for i, case in enumerate(c for c in CASES if a.k in c.id):
                if case.needs and not files[case.needs]:
                    counts["skipped"] += 1
                    continue
                case_tmp = Path(tmp) / f"case{i}"
                case_tmp.mkdir()
                argv, out = argv_of(case, files, case_tmp)
                t = time.perf_counter()
                result = run_in_process(argv, case.env) if a.in_process else run_subprocess(argv, case.env, a.timeout)
                outcome, text = judge(case, result, out)
                counts[outcome] += 1
                rows.append({"case": case.id, "outcome": outcome, "seconds": round(time.perf_counter() - t, 2), "text": text})
                if outcome != "clear":
                    print(f"{outcome:18} {case.id}\n    {text.strip().splitlines()[-1][:220] if text.strip() else ''}", flush=True)
        finally:
            fx.release(Path(tmp) / "files" / "rodir")
    total = sum(v for k, v in counts.items() if k != "skipped")
    print(f"\n{total} cases in {time.perf_counter() - t0:.0f} s: " + ", ".join(f"{k} {counts[k]}" for k in (*OUTCOMES, "skipped")))
    if a.json:
        a.json.write_text(json.dumps({"counts": counts, "cases": rows}, indent=1))


if __name__ == "__main__":
    main()
