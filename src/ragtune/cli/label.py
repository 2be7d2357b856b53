"""`ragtune label`: judge a few real queries in the terminal; the result decides ship/no-ship."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import typer

from ragtune.cli.common import console, handle_errors

_HELP = """\
Type the numbers of the passages that answer the query, then Enter:
  1 3    or  1,3   passages 1 and 3 are relevant (any number of them)
  s                skip: no passage shown is relevant, or you are unsure (not used for evaluation)
  u                undo the last answer and show its query again (repeat to go further back)
  v N              view passage N in full
  q                save and quit; run the same command again to resume
  ?                this help
Judge each passage on its own: does it answer the query? Every answer is saved at once."""


@handle_errors
def label(
    queries: Path = typer.Argument(..., help="Text file of real user queries, one per line (blank lines and # comments "
                                   "ignored, duplicates removed)."),
    corpus: list[str] = typer.Option(..., "--corpus", help="What to search: a retrieval dataset (construction-faq, a "
                                     ".json file, a BEIR folder, a ragtune .jsonl; its corpus is used) or your documents "
                                     "(files/folders, chunked as `ragtune data chunk` does). Repeat for several paths."),
    output: Path = typer.Option(..., "-o", "--output", help="The labelled dataset to write (LlamaIndex JSON, .json); its "
                                "journal OUT.journal.jsonl is written next to it."),
    model: str = typer.Option("minilm", "--model", "-m", help="The embedder you tune: registry name, local folder, adapter "
                              "run folder, cached hub id."),
    teacher: str = typer.Option("mpnet", "--teacher", "-t", help="A second (stronger) embedder whose top-k is pooled with "
                                "--model's; 'none' shows --model's only."),
    top_k: int = typer.Option(5, "--top-k", min=1, help="Passages per model; the pool shows at most 2k (fewer when both models agree)."),
    answers: Path | None = typer.Option(None, "--replies", help="Read the answers from this file (one per line, the same "
                                        "syntax as typing) instead of the keyboard; a non-terminal stdin is read the same way."),
    chars: int = typer.Option(400, "--chars", min=40, help="Show at most this many characters of each passage (`v N` shows it all)."),
    retry_skipped: bool = typer.Option(False, "--retry-skipped", help="Show queries skipped in earlier sessions again."),
    labeller: str = typer.Option("", "--labeller", help="Who labels, recorded in the journal (default: your user name)."),
    chunk_tokenizer: str = typer.Option("minilm", "--chunk-tokenizer", help="Documents only: the tokenizer that measures chunks (as in "
                                  "`ragtune data chunk`)."),
    chunk_size: int = typer.Option(256, "--chunk-size", min=16, help="Documents only: most tokens per chunk (as in `ragtune data chunk`)."),
    overlap: int = typer.Option(32, "--overlap", min=0, help="Documents only: tokens shared by consecutive chunks (as in `ragtune data chunk`)."),
    text_field: str = typer.Option("text", "--text-field", help="Documents only: the text field of .jsonl rows."),
) -> None:
    """Label a few REAL queries in the terminal, so the ship decision rests on them, not on synthetic ones.

    For each query you see the POOLED passages of two embedders: the top k (--top-k, default 5) of --model and of
    --teacher, merged without duplicates and interleaved by rank (1st of each model, then 2nd, ...), each
    marked with the model(s) that found it. Judging this pool is fair to both models (TREC-style pooling):
    neither model's hits are hidden, and a passage found by only one of them can still be marked relevant.

    Keys: the numbers of the relevant passages (`1 3` or `1,3`), `s` skip (none relevant / unsure), `u` undo
    the last answer, `v N` view passage N in full, `q` save and quit, `?` help. Bad input asks again.

    Every answer is saved at once: one fsynced line in OUT.journal.jsonl, and OUT rewritten atomically.
    Run the same command again to resume at the next unanswered query; a killed session loses nothing.
    OUT is a retrieval dataset in LlamaIndex JSON: the labelled queries (skipped ones left out), the WHOLE
    corpus (so ranking is over every passage, as in use) and meta recording the models, k, the skipped
    queries and the journal. Use documents with the same chunking options every time: chunk ids are stable.

    Example:
      ragtune label queries.txt --corpus docs/ -o labels.json
      ragtune label queries.txt --corpus construction-faq -o labels.json --teacher none
      ragtune train adapter data.json -o runs/a --teacher mpnet --eval-dataset labels.json

    Scripts and tests: --replies FILE (or a piped stdin) gives one answer per line; from Python,
    `ragtune.label.label_queries(queries, corpus, model, teacher, output, answer_fn)`.
    """
    from ragtune.io import check_output
    from ragtune.label import label_queries

    check_output(output, "file")
    if answers is not None:
        lines = _answer_lines(answers)
        interactive = False
    elif sys.stdin.isatty():
        lines, interactive = None, True
    else:
        lines, interactive = _stdin_lines(), False
    screen = Screen(chars=chars, lines=lines, interactive=interactive and console.is_terminal)
    summary = label_queries(
        queries, corpus, model=model, teacher=teacher, output=output, answer_fn=screen.ask, k=top_k,
        labeller=labeller or None, retry_skipped=retry_skipped, on_show=screen.show, notify=screen.note,
        show_progress=console.is_terminal,
        corpus_options={"tokenizer": chunk_tokenizer, "chunk_size": chunk_size, "overlap": overlap, "text_field": text_field},
    )
    per = f"{summary.seconds_per_query:.1f} s per query this session" if summary.seconds_per_query is not None else "no answer this session"
    _say(f"labelled {summary.labelled}, skipped {summary.skipped}, remaining {summary.remaining} of {summary.total} queries "
         f"({per}) -> {summary.output}")
    screen.flush()
    pooled = (f", {summary.pooling_seconds_per_query:.2f} s per query" if summary.pooling_seconds_per_query is not None else "")
    _say(f"journal: {summary.journal}; models: corpus {summary.corpus_seconds:.1f} s{pooled} (embeddings are cached on disk)")
    if summary.remaining:
        _say("run the same command again to go on where you stopped.")
    if summary.labelled:
        _say(f"use it to decide: --eval-dataset {summary.output}")


class Screen:
    """Shows a query and its pool, and reads one answer (keyboard, answers file or piped stdin)."""

    def __init__(self, chars: int, lines: Iterator[str] | None, interactive: bool):
        self.chars, self.lines, self.interactive = chars, lines, interactive
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        """A note; on a terminal it waits for the next screen (which starts by clearing the last one)."""
        self.notes.append(message)
        if not self.interactive:
            self.flush()

    def flush(self) -> None:
        for message in self.notes:
            console.print(message, style="yellow", markup=False, highlight=False, soft_wrap=True)
        self.notes.clear()

    def show(self, progress, query: str, passages) -> None:
        from rich.rule import Rule
        from rich.table import Table
        from rich.text import Text

        if self.interactive:
            console.clear()
        console.print(Rule(Text(f"query {progress.position} of {progress.total}  ·  {progress.labelled} labelled  ·  "
                                f"{progress.skipped} skipped  ·  {progress.remaining} to go", style="bold")))
        self.flush()
        console.print(Text(query, style="bold cyan"))
        console.print()
        grid = Table.grid(padding=(0, 1))
        grid.add_column(justify="right", style="bold", no_wrap=True)
        grid.add_column(ratio=1)
        for p in passages:
            body = Text(_cut(p.text, self.chars))
            found = f"found by {p.retrieved_by()}" + (f"  ·  {p.source}" if p.source and p.source != p.doc_id else "")
            body.append(f"\n{found}", style="dim")
            grid.add_row(f"[{p.number}]", body)
            grid.add_row("", "")
        console.print(grid)
        console.print(Text("relevant? numbers (1 3)  ·  s skip  ·  u undo  ·  v N view  ·  q save & quit  ·  ? help", style="dim"))

    def ask(self, query: str, passages):
        from ragtune.label import AnswerError, parse_answer

        while True:
            try:
                line = self._read()
            except (EOFError, KeyboardInterrupt):
                return "quit"
            try:
                answer = parse_answer(line, len(passages))
            except AnswerError as e:
                err = f"! {e}"
                console.print(err, style="red", markup=False, highlight=False, soft_wrap=True)
                continue
            if answer == "help":
                console.print(_HELP, markup=False, highlight=False)
            elif isinstance(answer, tuple):
                p = passages[answer[1] - 1]
                console.print(f"[{p.number}] {p.doc_id}\n{p.text}", markup=False, highlight=False, soft_wrap=False)
            else:
                return answer

    def _read(self) -> str:
        if self.lines is None:
            return console.input("answer> ")
        line = next(self.lines, None)
        if line is None:
            raise EOFError
        console.print(f"answer> {line}", markup=False, highlight=False)
        return line


def _cut(text: str, chars: int) -> str:
    text = " ".join(text.split())
    if len(text) <= chars:
        return text
    cut = text[:chars].rsplit(" ", 1)[0] if " " in text[: chars] else text[:chars]
    return cut + " …"


def _answer_lines(path: Path) -> Iterator[str]:
    from ragtune.errors import InputError

    if not path.is_file():
        raise InputError(f"--replies {path}: file not found; give a text file with one answer per line.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"--replies {path}: not UTF-8 text; re-save it as UTF-8.") from None
    return _useful(text.splitlines())


def _stdin_lines() -> Iterator[str]:
    return _useful(line.rstrip("\n") for line in sys.stdin)


def _useful(lines) -> Iterator[str]:
    """Answer lines without blank lines and # comments."""
    return (line.strip() for line in lines if line.strip() and not line.strip().startswith("#"))


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)

