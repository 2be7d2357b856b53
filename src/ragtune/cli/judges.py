"""`ragtune generate judge-data`, `ragtune eval judge`, `ragtune eval rag`: distil a judge, then judge the whole RAG app.

Thin: parse, check, call `ragtune.judges`, print. Heavy imports happen inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

import typer

from ragtune.cli.common import console, err_console, handle_errors, say
from ragtune.cli.options import config_from, config_option, flag_of, option
from ragtune.judges.config import LLM_HELP, JudgeDataConfig

J = JudgeDataConfig


def _llm_option(field: str, *names: str, **bounds: Any) -> Any:
    """An LLM setting of `eval judge` / `eval rag` (commands without a config): judge-data's field, with its default
    and help, so the three commands share one definition."""
    info = J.model_fields[field]
    return typer.Option(info.default, flag_of(field, J), *names, help=info.description, **bounds)


BASE_URL = _llm_option("base_url")
API_KEY_ENV = _llm_option("api_key_env")
CONCURRENCY = _llm_option("concurrency", "-c", min=1)
TIMEOUT = _llm_option("timeout", min=0.001)
SCORE_LOGPROBS = _llm_option("score_logprobs", min=0, max=20)


def _progress(what: str, done: int, total: int) -> None:
    if console.is_terminal and (done == total or done % 25 == 0):
        err_console.print(f"{what}: {done}/{total}", highlight=False)


@handle_errors
def judge_data(
    qa: Optional[str] = typer.Argument(None, help=J.model_fields["qa"].description, show_default=False),
    output: Optional[Path] = option(J, "output", "-o"),
    answers: Optional[list[Path]] = option(J, "answers"),
    answer_with: Optional[list[str]] = option(J, "answer_with"),
    teacher: Optional[str] = option(J, "teacher", "-t"),
    base_url: Optional[str] = option(J, "base_url"),
    api_key_env: Optional[str] = option(J, "api_key_env"),
    labels: Optional[Literal["teacher", "truth"]] = option(J, "labels"),
    test_fraction: Optional[float] = option(J, "test_fraction"),
    limit: Optional[int] = option(J, "limit"),
    pairwise: Optional[bool] = option(J, "pairwise", bool_flag=True),
    swap_ratio: Optional[float] = option(J, "swap_ratio"),
    concurrency: Optional[int] = option(J, "concurrency", "-c"),
    max_tokens: Optional[int] = option(J, "max_tokens"),
    answer_max_tokens: Optional[int] = option(J, "answer_max_tokens"),
    timeout: Optional[float] = option(J, "timeout"),
    score_logprobs: Optional[int] = option(J, "score_logprobs"),
    seed: Optional[int] = option(J, "seed"),
    config: Optional[Path] = config_option(),
) -> None:
    """Make judge training data: items with controls, the teacher's judgments, SFT chats for `train sft`.

    Correctness items (question, reference, answer) and pairwise items (two answers) come from the answer
    sources; controls whose truth is known by construction (the reference itself, another question's answer
    from the same or another category, a truncated reference) give every judge an accuracy. The teacher
    judges every item, pairwise ones in both orders; every call is journaled, so a stopped run resumes.

    Examples:
      ragtune generate judge-data construction-faq -o jd/ --answer-with smollm2-135m-instruct --teacher local:qwen2.5-coder-0.5b-instruct
      ragtune generate judge-data qa.jsonl -o jd/ --answers rag=rag-eval/answers/tuned.jsonl --teacher openai:gpt-4o
      ragtune train sft jd/train.jsonl -m smollm2-135m-instruct -o runs/judge
    """
    from ragtune.judges.data import generate_judge_data

    cfg = config_from(JudgeDataConfig, locals(), config, arguments=("qa",))
    s = generate_judge_data(cfg, on_progress=_progress)
    it = s["items"]
    say(f"{s['questions']} questions; {it['train']} train / {it['test']} test items ({it['correctness']} correctness, "
        f"{it['pairwise']} pairwise, {it['controls']} controls)")
    if "teacher" in s:
        t = s["teacher"]
        acc = "n/a" if t["control_accuracy"] is None else f"{t['control_accuracy']:.3f}"
        say(f"teacher {t['model']}: control accuracy {acc}; unparsed {t['unparsed']}; "
            f"calls made {t['calls']['calls_made']}, resumed {t['calls']['calls_resumed']}, failed {t['calls']['calls_failed']}")
        if t["calls"]["calls_failed"]:
            err_console.print(f"{t['calls']['calls_failed']} call(s) failed; rerun the same command to retry them.")
    say(f"wrote {cfg.output}/items.jsonl, train.jsonl ({s['train_chats']} chats), test.jsonl ({s['test_chats']} chats), summary.json")
    if not s["complete"]:
        raise typer.Exit(code=1)


def _labelled(spec: str) -> tuple[str | None, str]:
    if "=" in spec and not spec.startswith(("openai:", "local:")):
        label, _, target = spec.partition("=")
        if label and target:
            return label, target
    return None, spec


@handle_errors
def eval_judge(
    data: Path = typer.Argument(..., help="A `generate judge-data` folder (items.jsonl, teacher.jsonl, split.json)."),
    judge: list[str] = typer.Option(..., "--judge", "-j", help=f"A judge: 'teacher' (the stored teacher judgments) or {LLM_HELP}. "
                                    "Repeat to compare; the first is the baseline. LABEL=SPEC sets a label."),
    split: str = typer.Option("test", "--split", help="Items of the 'test' questions (default), 'train' or 'all'."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the evaluation report (task judge) to this file."),
    details: Optional[Path] = typer.Option(None, "--details", help="Write every judge's full report (by control, histograms) here."),
    base_url: Optional[str] = BASE_URL,
    api_key_env: str = API_KEY_ENV,
    concurrency: int = CONCURRENCY,
    max_tokens: int = _llm_option("max_tokens", min=8),
    timeout: float = TIMEOUT,
    score_logprobs: int = SCORE_LOGPROBS,
    bootstrap: int = typer.Option(1000, "--bootstrap", min=1, help="Bootstrap resamples for the 95% intervals."),
) -> None:
    """Score judges against the teacher (Pearson, Spearman, Kendall, agreement, kappa), on their own (swap
    consistency) and on the controls (accuracy), each later judge paired with the first.

    Judge calls are journaled in DATA/journal/, so a rerun judges nothing twice.

    Example: ragtune eval judge jd/ -j teacher -j base=smollm2-135m-instruct -j tuned=runs/judge --json judge.json
    """
    from ragtune.io import atomic_write_json, check_output
    from ragtune.judges.data import chat_llm
    from ragtune.judges.evaluate import TEACHER, evaluate_judges, read_data
    from ragtune.llm import check_llm
    from ragtune.records import write_report
    from ragtune.report.tables import eval_table

    for path, opt in ((json_out, "--json"), (details, "--details")):
        if path:
            check_output(path, "file", option=opt)
    read_data(data, split)  # the folder and split exist before any model loads
    judges = {}
    for spec in judge:
        label, target = _labelled(spec)
        label = label or target
        if label in judges:
            from ragtune.errors import InputError

            raise InputError(f"--judge {label!r} is given twice; use LABEL=SPEC to tell them apart.")
        judges[label] = TEACHER if target == TEACHER else chat_llm(target, base_url=base_url, api_key_env=api_key_env,
                                                                   concurrency=concurrency, timeout=timeout)
    for j in judges.values():
        if not isinstance(j, str):
            check_llm(j)
    report, full = evaluate_judges(data, judges, split=split, concurrency=concurrency, max_tokens=max_tokens,
                                   n_resamples=bootstrap, on_progress=_progress,
                                   score_logprobs=score_logprobs)
    shown = [m for m in ("control_accuracy", "pearson_vs_teacher", "kappa_vs_teacher", "pairwise_agreement_vs_teacher",
                         "swap_consistency", "inconclusive_rate")
             if all(m in r.metrics for r in report.results)]
    console.print(eval_table(report, shown or ["control_accuracy"]))
    if json_out:
        write_report(json_out, report)
        say(f"wrote {json_out}")
    if details:
        atomic_write_json(details, full)
        say(f"wrote {details}")


@handle_errors
def eval_rag(
    qa: str = typer.Argument(..., help="QA set: construction-faq (its answers are the corpus), or a JSONL file of "
                             "{id, question, reference, doc_ids?} rows with --corpus."),
    retriever: list[str] = typer.Option(..., "--retriever", "-r", help="Embedding model of a pipeline: registry name, folder, "
                                        "adapter run folder or cached hub id. Repeat once per pipeline; the first is the baseline."),
    generator: list[str] = typer.Option(..., "--generator", "-g", help=f"Answer model of a pipeline (same order as --retriever): {LLM_HELP}."),
    judge: Optional[str] = typer.Option(None, "--judge", "-j", help=f"The judge of correctness and faithfulness: {LLM_HELP}. "
                                        "Without one, only hit@k and ROUGE-L."),
    output: Path = typer.Option(..., "--output", "-o", help="Output folder: answers/LABEL.jsonl, journal/, report.json, summary.json."),
    name: Optional[list[str]] = typer.Option(None, "--pipeline-name", help="Label of each pipeline, in order (default: p1, p2, ...)."),
    corpus: Optional[str] = typer.Option(None, "--corpus", help="Retrieval dataset whose corpus is searched (for a QA file)."),
    k: int = typer.Option(3, "--k", min=1, help="Passages retrieved and given to the generator."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Use a seeded sample of this many questions."),
    faithfulness: bool = typer.Option(True, "--faithfulness/--no-faithfulness", help="Also judge whether the context supports the answer."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the evaluation report (task rag) to this file."),
    base_url: Optional[str] = BASE_URL,
    api_key_env: str = API_KEY_ENV,
    concurrency: int = CONCURRENCY,
    max_tokens: int = typer.Option(160, "--max-new-tokens", min=8, help="Longest generated answer in tokens."),
    timeout: float = TIMEOUT,
    score_logprobs: int = SCORE_LOGPROBS,
    bootstrap: int = typer.Option(1000, "--bootstrap", min=1, help="Bootstrap resamples for the 95% intervals."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of --limit's sample and of the bootstrap."),
) -> None:
    """Judge whole RAG pipelines side by side: hit@k, answer correctness and faithfulness (by the judge),
    ROUGE-L, each pipeline paired with the first (bootstrap 95% CIs).

    Example: ragtune eval rag construction-faq -r minilm -g smollm2-135m-instruct -r runs/demo/adapter -g runs/sft
      --name naive --name tuned -j local:qwen2.5-coder-0.5b-instruct -o rag-eval/
    """
    from ragtune.embedders import load_embedder
    from ragtune.errors import InputError
    from ragtune.io import check_output
    from ragtune.judges.data import chat_llm, load_qa, subsample
    from ragtune.judges.rag import Pipeline, evaluate_rag
    from ragtune.llm import check_llm
    from ragtune.records import write_report
    from ragtune.report.tables import eval_table

    if len(retriever) != len(generator):
        raise InputError(f"give one --generator per --retriever; got {len(retriever)} retriever(s) and {len(generator)} generator(s).")
    names = list(name or []) or [f"p{i + 1}" for i in range(len(retriever))]
    if len(names) != len(retriever):
        raise InputError(f"give one --pipeline-name per pipeline or none; got {len(names)} name(s) for {len(retriever)} pipeline(s).")
    if len(set(names)) != len(names):
        raise InputError(f"--name labels must differ; got {names}.")
    check_output(output, "folder")
    if json_out:
        check_output(json_out, "file", option="--json")
    if qa == "construction-faq":
        if corpus is not None:
            raise InputError("construction-faq brings its own corpus (its answers); leave out --corpus.")
        from ragtune.data.retrieval import construction_faq

        rows = load_qa(qa)
        docs = construction_faq().corpus
        relevant = {r.id: [r.id] for r in rows}
        dataset = "construction-faq"
    else:
        if corpus is None:
            raise InputError("a QA file needs --corpus DATASET: the retrieval dataset whose corpus the retriever searches.")
        from ragtune.data.retrieval import load_checked

        rows = load_qa(qa)
        docs = load_checked(corpus, "--corpus").corpus
        relevant = _qa_doc_ids(Path(qa), docs)
        dataset = Path(qa).stem
    rows = subsample(rows, limit, seed)
    llm_kw = dict(base_url=base_url, api_key_env=api_key_env, concurrency=concurrency, timeout=timeout)
    pipelines = [Pipeline(n, load_embedder(r, base_url=base_url), chat_llm(g, **llm_kw)) for n, r, g in zip(names, retriever, generator)]
    judge_llm = chat_llm(judge, **llm_kw) if judge else None
    for llm in [*(p.generator for p in pipelines), *([judge_llm] if judge_llm else [])]:
        check_llm(llm)
    report, summary = evaluate_rag(rows, docs, relevant, pipelines, judge_llm, output, k=k, concurrency=concurrency,
                                   answer_max_tokens=max_tokens, faithfulness=faithfulness, n_resamples=bootstrap, seed=seed,
                                   dataset=dataset, on_progress=_progress, score_logprobs=score_logprobs)
    first = report.results[0].metrics
    shown = [m for m in (report.headline, f"hit@{k}", "correct", "faithfulness", "rouge_l") if m in first]
    shown = [m for m in dict.fromkeys(shown) if all(m in r.metrics for r in report.results)]
    console.print(eval_table(report, shown))
    for r in report.results[1:]:
        sig = [m for m in shown if r.metrics.get(f"significant_{m}")]
        say(f"{r.model} vs {report.results[0].model}: significant differences: {', '.join(sig) or 'none'}")
    if json_out:
        write_report(json_out, report)
    say(f"wrote {output}/report.json and answers/ (usable as `generate judge-data --answers`)")


def _qa_doc_ids(path: Path, corpus) -> dict[str, list[str]] | None:
    """`doc_ids` (or `doc_id`) of each QA row, checked against the corpus; None when no row has any."""
    import json

    from ragtune.errors import InputError

    out: dict[str, list[str]] = {}
    if path.suffix == ".json":
        rows = json.loads(path.read_text(encoding="utf-8"))
    else:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for n, row in enumerate(rows, 1):
        ids = row.get("doc_ids", [row["doc_id"]] if "doc_id" in row else [])
        ids = [str(i) for i in (ids if isinstance(ids, list) else [ids])]
        missing = [i for i in ids if i not in corpus]
        if missing:
            raise InputError(f"QA set {path}, row {n}: doc id {missing[0]!r} is not in the --corpus.")
        if ids:
            out[str(row.get("id"))] = ids
    return out or None
