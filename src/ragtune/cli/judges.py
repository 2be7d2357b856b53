"""`ragtune generate judge-data`, `ragtune eval judge`, `ragtune eval rag`: distil a judge, then judge the whole RAG app.

Thin: parse, check, call `ragtune.judges`, print. Heavy imports happen inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ragtune.cli.common import console, err_console, handle_errors, say

LLM_HELP = ("'local:MODEL' or a bare registry name / model folder / SFT run folder (in process), or 'openai:MODEL' "
            "(an OpenAI-compatible server: --base-url, key in --api-key-env)")


def chat_llm(spec: str, *, base_url: str | None, api_key_env: str, concurrency: int, timeout: float):
    """An LLM from a spec; a bare name is a local model (registry name, folder or run folder)."""
    from ragtune.llm import load_llm

    if spec != "local" and not spec.startswith(("local:", "openai:")):
        spec = "local:" + spec
    return load_llm(spec, base_url=base_url, api_key_env=api_key_env, concurrency=concurrency, timeout=timeout)


def _progress(what: str, done: int, total: int) -> None:
    if console.is_terminal and (done == total or done % 25 == 0):
        err_console.print(f"{what}: {done}/{total}", highlight=False)


@handle_errors
def judge_data(
    qa: str = typer.Argument(..., help="QA set: construction-faq, or a JSONL file of {id, question, reference, category} rows."),
    output: Path = typer.Option(..., "--output", "-o", help="Output folder: items.jsonl, split.json, teacher.jsonl, train.jsonl, "
                                "test.jsonl, summary.json, answers/, journal/ (resumable)."),
    answers: Optional[list[Path]] = typer.Option(None, "--answers", help="Answers to judge: JSONL of {id, answer} (e.g. eval rag's "
                                                 "OUT/answers/LABEL.jsonl); repeat for more sources; LABEL=FILE sets the label."),
    answer_with: Optional[list[str]] = typer.Option(None, "--answer-with", help=f"Also answer every question with this model: {LLM_HELP}. Repeatable."),
    teacher: Optional[str] = typer.Option(None, "--teacher", "-t", help=f"The judge to distil: {LLM_HELP}."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible server URL for openai: models."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env", help="Environment variable holding the API key (never written)."),
    labels: str = typer.Option("teacher", "--labels", help="What the SFT chats teach: 'teacher' (the teacher's judgments) or 'truth' "
                               "(the control labels, known by construction)."),
    test_fraction: float = typer.Option(0.2, "--test-fraction", min=0.0, max=0.9, help="Share of questions held out (split by question)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Use a seeded sample of this many questions."),
    pairwise: bool = typer.Option(True, "--pairwise/--no-pairwise", help="Also build pairwise items (judged in both orders)."),
    swap_ratio: float = typer.Option(0.5, "--swap-ratio", min=0.0, max=1.0, help="Share of pairwise chats also given in the swapped order."),
    concurrency: int = typer.Option(8, "--concurrency", "-c", min=1, help="Calls in flight (server) / prompts per batch (local)."),
    max_tokens: int = typer.Option(128, "--max-new-tokens", min=8, help="Longest judge reply in tokens."),
    timeout: float = typer.Option(60.0, "--timeout", min=0.001, help="Seconds before a server call is retried."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the split, the controls and the swaps."),
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
    from ragtune.errors import InputError
    from ragtune.io import check_output
    from ragtune.judges.data import generate_judge_data, load_qa, source_label, subsample
    from ragtune.judges.items import check_sources, read_answers
    from ragtune.llm import check_llm

    if labels not in ("teacher", "truth"):
        raise InputError(f"--labels must be 'teacher' or 'truth'; got {labels!r}.")
    if labels == "teacher" and not teacher:
        raise InputError("--labels teacher needs --teacher SPEC (or use --labels truth to train on the control labels).")
    check_output(output, "folder")
    every = load_qa(qa)
    sources = {}
    for spec in answers or []:
        label, path = source_label(str(spec))
        if label in sources:
            raise InputError(f"--answers: the label {label!r} is given twice; use LABEL=FILE to tell them apart.")
        sources[label] = read_answers(path)
    check_sources(every, sources)
    rows = subsample(every, limit, seed)
    kept = {r.id for r in rows}
    sources = {label: {q: a for q, a in ans.items() if q in kept} for label, ans in sources.items()}
    llm_kw = dict(base_url=base_url, api_key_env=api_key_env, concurrency=concurrency, timeout=timeout)
    answer_llms = {}
    for spec in answer_with or []:
        label, target = source_label(spec)
        answer_llms[label] = chat_llm(target, **llm_kw)
    judge = chat_llm(teacher, **llm_kw) if teacher else None
    for llm in [*answer_llms.values(), *([judge] if judge else [])]:
        check_llm(llm)
    s = generate_judge_data(rows, output, sources=sources, answer_llms=answer_llms, teacher=judge, test_fraction=test_fraction,
                            seed=seed, labels=labels, swap_ratio=swap_ratio, pairwise=pairwise, concurrency=concurrency,
                            max_tokens=max_tokens, on_progress=_progress)
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
    say(f"wrote {output}/items.jsonl, train.jsonl ({s['train_chats']} chats), test.jsonl ({s['test_chats']} chats), summary.json")
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
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible server URL for openai: judges."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env", help="Environment variable holding the API key (never written)."),
    concurrency: int = typer.Option(8, "--concurrency", "-c", min=1, help="Calls in flight (server) / prompts per batch (local)."),
    max_tokens: int = typer.Option(128, "--max-new-tokens", min=8, help="Longest judge reply in tokens."),
    timeout: float = typer.Option(60.0, "--timeout", min=0.001, help="Seconds before a server call is retried."),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=1, help="Bootstrap resamples for the 95% intervals."),
) -> None:
    """Score judges against the teacher (Pearson, Spearman, Kendall, agreement, kappa), on their own (swap
    consistency) and on the controls (accuracy), each later judge paired with the first.

    Judge calls are journaled in DATA/journal/, so a rerun judges nothing twice.

    Example: ragtune eval judge jd/ -j teacher -j base=smollm2-135m-instruct -j tuned=runs/judge --json judge.json
    """
    from ragtune.io import atomic_write_json, check_output
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
                                   n_resamples=bootstrap, on_progress=_progress)
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
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible server URL for openai: models."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env", help="Environment variable holding the API key (never written)."),
    concurrency: int = typer.Option(8, "--concurrency", "-c", min=1, help="Calls in flight (server) / prompts per batch (local)."),
    max_tokens: int = typer.Option(160, "--max-new-tokens", min=8, help="Longest generated answer in tokens."),
    timeout: float = typer.Option(60.0, "--timeout", min=0.001, help="Seconds before a server call is retried."),
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
    from ragtune.judges.data import load_qa, subsample
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
                                   dataset=dataset, on_progress=_progress)
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
