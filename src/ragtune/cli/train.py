"""`ragtune train ...`: one command per trainable component (embedding, adapter, reranker, sft)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Fine-tune a component: embedding model, adapter, reranker, or chat LLM.", no_args_is_help=True)

from ragtune.cli.sft import train_sft  # noqa: E402

app.command("sft")(train_sft)

from ragtune.cli.embedding import train_adapter  # noqa: E402

app.command("adapter")(train_adapter)

from ragtune.cli.embedding import train_embedding  # noqa: E402

app.command("embedding")(train_embedding)

from ragtune.cli.reranker import train_reranker  # noqa: E402

app.command("reranker")(train_reranker)
