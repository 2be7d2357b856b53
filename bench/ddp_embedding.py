"""DDP proof: `ragtune train embedding` under `accelerate launch` with 2 CPU processes (gloo).

    .venv/bin/python bench/ddp_embedding.py          # builds a tiny model + data, launches 2 processes
Writes bench/results/ddp_embedding.json: world size, backend, per-rank steps, and the losses of a
1-process run of the same data for comparison. The model is a tiny BERT (2 layers, hidden 32) built
from config with the real MiniLM tokenizer, so the proof runs in about a minute.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
RESULTS = Path(__file__).parent / "results" / "ddp_embedding.json"
WORDS = ["roof", "window", "permit", "garage", "fence", "kitchen", "heating", "balcony", "stairs", "chimney"]


def build(folder: Path) -> tuple[Path, Path]:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import AutoTokenizer, BertConfig, BertModel

    from ragtune.assets import resolve_model
    from ragtune.data.retrieval import RetrievalDataset, write_llamaindex

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(str(resolve_model("minilm")))
    BertModel(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(folder / "hf")
    tok.save_pretrained(folder / "hf")
    SentenceTransformer(modules=[Transformer(str(folder / "hf"), max_seq_length=64), Pooling(32, "mean"), Normalize()],
                        device="cpu").save(str(folder / "model"))
    ds = RetrievalDataset(queries={}, corpus={}, relevant_docs={}, name="ddp-kw")
    for a, b in itertools.combinations(range(len(WORDS)), 2):
        ds.corpus[f"d{a}-{b}"] = f"this answer covers the {WORDS[a]} and the {WORDS[b]} ."
        ds.queries[f"q{a}-{b}"] = f"what about {WORDS[a]} {WORDS[b]} ?"
        ds.relevant_docs[f"q{a}-{b}"] = [f"d{a}-{b}"]
        ds.doc_source[f"d{a}-{b}"] = f"d{a}-{b}"
    return folder / "model", write_llamaindex(ds, folder / "data.json")


def worker(model: str, data: str, out: str) -> None:
    import torch.distributed as dist

    from ragtune.embeddings.train import train_embedding

    m = train_embedding(dataset=data, model=model, output=out, epochs=2, batch_size=8, learning_rate=1e-3, seed=7)
    decision = getattr(m, "decision", None)  # rank 0 alone decides; the other ranks get no decision
    info = {"rank": int(os.environ.get("RANK", 0)), "world_size": dist.get_world_size() if dist.is_initialized() else 1,
            "backend": dist.get_backend() if dist.is_initialized() else None, "shipped": decision.shipped if decision else None}
    Path(out, f"rank{info['rank']}.json").write_text(json.dumps(info))


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        return worker(*sys.argv[2:])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["RAGTUNE_HOME"] = str(tmp / "home")
        model, data = build(tmp)
        runs = {}
        for n in (2, 1):
            out = tmp / f"run{n}"
            # --multi_gpu selects the torchrun launcher; with no GPU each process runs on CPU and DDP uses gloo
            cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu" if n > 1 else "--cpu", "--num_processes", str(n),
                   "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                   __file__, "--worker", str(model), str(data), str(out)]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
            if proc.returncode != 0:
                sys.exit(f"accelerate launch with {n} processes failed:\n{proc.stderr[-4000:]}")
            metrics = json.loads((out / "metrics.json").read_text())
            ranks = [json.loads(p.read_text()) for p in sorted(out.glob("rank*.json"))]
            runs[f"{n}_processes"] = {"seconds": round(time.perf_counter() - t0, 1), "ranks": ranks,
                                      "steps": metrics["curve"][-1].get("step"), "curve": metrics["curve"],
                                      "val_ndcg@10": metrics["models"]["val"]}
            print(f"{n} process(es): ranks {ranks}; optimizer steps {runs[f'{n}_processes']['steps']}; "
                  f"{runs[f'{n}_processes']['seconds']} s", flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(runs, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
