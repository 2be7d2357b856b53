"""Generation throughput: (1) OpenAI-compatible server at concurrency 1/8/32 vs ideal; (2) local batched vs one-at-a-time.

(1) A real 127.0.0.1 server answers every chat completion after a fixed delay. The full
`generate_queries` pipeline (prompting, async client, journal fsync per chunk, parsing) runs against
it; chunks/s is compared with the ideal concurrency / delay. The server's own overhead is measured
(handler time minus the sleep, and a zero-delay run).
(2) The in-process local model on the same prompts (the bundled template on the first N FAQ
answers, shortest first as `generate queries` orders them): plain transformers `generate` one
prompt at a time (greedy) vs `LocalLLM` batches (shared-prefix cache, static KV cache); output
tokens/s of each, and whether the texts are identical.

    .venv/bin/python bench/generate_throughput.py --part server
    .venv/bin/python bench/generate_throughput.py --part local --prompts 96 --batch 32 --max-tokens 40 --threads 2
Writes bench/results/generate_throughput_<part>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
RESULTS = Path(__file__).parent / "results"


def fake_chunks(n: int):
    from ragtune.data.documents import Chunk

    return [Chunk(id=f"c{i}", text=f"Passage number {i} explains how the part{i} of a roof is installed.",
                  source=f"doc{i}", position=0, char_start=0, char_end=60) for i in range(n)]


class ServerProcess:
    """The test server in its own process, so its work never competes with the client for the GIL."""

    def __init__(self, delay: float):
        import subprocess
        import sys

        self.proc = subprocess.Popen([sys.executable, "-m", "ragtune.llm.testserver", "--delay", str(delay)],
                                     stdout=subprocess.PIPE, text=True)
        self.base_url = self.proc.stdout.readline().strip()

    def stats(self, reset: bool = False) -> dict:
        import urllib.request

        path = "/stats/reset" if reset else "/stats"
        with urllib.request.urlopen(self.base_url.removesuffix("/v1") + path) as r:
            return json.loads(r.read())

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def server_run(srv: ServerProcess, delay: float, concurrency: int, n: int) -> dict:
    from ragtune.generate import generate_queries
    from ragtune.llm import OpenAIProvider

    srv.stats(reset=True)
    with tempfile.TemporaryDirectory() as tmp:
        llm = OpenAIProvider("bench", base_url=srv.base_url, max_concurrency=concurrency)
        res = generate_queries(fake_chunks(n), Path(tmp) / "out", llm=llm, filter=False, concurrency=concurrency)
        gen_s = res.summary["generation_seconds_this_run"]
    seen = srv.stats()
    rate = n / gen_s
    ideal = concurrency / delay if delay else None
    return {"delay_s": delay, "concurrency": concurrency, "chunks": n, "seconds": round(gen_s, 3),
            "chunks_per_s": round(rate, 2), "ideal_chunks_per_s": ideal,
            "fraction_of_ideal": round(rate / ideal, 3) if ideal else None,
            "peak_in_flight_seen_by_server": seen["peak_in_flight"],
            "server_overhead_ms_median": round(seen["overhead_ms_median"], 3),
            "server_overhead_ms_p99": round(seen["overhead_ms_p99"], 3)}


def part_server(delay: float) -> dict:
    import openai  # noqa: F401  (imported once up front: a one-time cost, not per chunk)

    slow, fast = ServerProcess(delay), ServerProcess(0.0)
    try:
        server_run(slow, delay, 8, 16)  # warm-up: imports, first connection
        rows = [server_run(slow, delay, c, n) for c, n in [(1, 25), (8, 160), (32, 640)]]
        rows.append(server_run(fast, 0.0, 32, 640))  # no delay: the client + server ceiling
    finally:
        slow.close()
        fast.close()
    for r in rows:
        print(f"delay {r['delay_s']*1000:.0f} ms  c={r['concurrency']:>2}  {r['chunks_per_s']:8.1f} chunks/s  "
              f"ideal {r['ideal_chunks_per_s'] or '-':>6}  fraction {r['fraction_of_ideal'] or '-'}  "
              f"peak in flight {r['peak_in_flight_seen_by_server']}  server overhead median "
              f"{r['server_overhead_ms_median']} ms (p99 {r['server_overhead_ms_p99']} ms)")
    return {"part": "server", "runs": rows}


def faq_prompts(n: int, questions: int = 1, prompt_file: str | None = None) -> list[list[dict]]:
    from ragtune.data.retrieval import faq_records
    from ragtune.generate.prompts import load_template, render
    from ragtune.llm import user_message

    return [user_message(render(load_template(prompt_file), r["a"], questions, [])) for r in faq_records()[:n]]


def plain_generate(llm, messages, max_tokens: int):
    """The baseline: plain transformers `generate` on one prompt (no batching, no prefix cache)."""
    import torch

    tok, model = llm.load()
    enc = tok([llm.template(messages)], return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=max_tokens, do_sample=False, pad_token_id=tok.pad_token_id,
                             eos_token_id=llm._stops)
    return llm._completion(tok, out[0, enc["input_ids"].shape[1]:], enc["input_ids"].shape[1])


def part_local(model: str, n: int, batch: int, max_tokens: int, threads: int, questions: int,
               prompt_file: str | None = None) -> dict:
    import torch

    from ragtune.llm import LocalLLM, complete_many

    torch.set_num_threads(threads)
    # shortest first, as `generate queries` orders its work, so each batch holds prompts of similar length
    prompts = sorted(faq_prompts(n, questions, prompt_file), key=lambda m: len(m[-1]["content"]))
    llm = LocalLLM(model, batch_size=batch)
    llm.load()
    asyncio.run(complete_many(llm, prompts[:2], concurrency=2, max_tokens=4))  # warm-up
    t0 = time.perf_counter()
    single = [plain_generate(llm, p, max_tokens) for p in prompts]
    t_single = time.perf_counter() - t0
    print(f"one at a time: {t_single:.1f} s, {sum(c.completion_tokens for c in single)} tokens", flush=True)
    t0 = time.perf_counter()
    outs = asyncio.run(complete_many(llm, prompts, concurrency=batch, max_tokens=max_tokens))
    t_batch = time.perf_counter() - t0
    batched = [o.completion for o in sorted(outs, key=lambda o: o.index)]
    tok_single, tok_batch = sum(c.completion_tokens for c in single), sum(c.completion_tokens for c in batched)
    same = sum(a.text == b.text for a, b in zip(single, batched))
    row = {"part": "local", "model": model, "prompt_file": prompt_file or "bundled", "prompts": n, "questions_per_prompt": questions, "batch_size": batch,
           "max_tokens": max_tokens, "prompt_tokens": sum(c.prompt_tokens for c in single),
           "one_at_a_time": {"seconds": round(t_single, 2), "tokens_out": tok_single, "tokens_per_s": round(tok_single / t_single, 2)},
           "batched": {"seconds": round(t_batch, 2), "tokens_out": tok_batch, "tokens_per_s": round(tok_batch / t_batch, 2)},
           "speedup_tokens_per_s": round((tok_batch / t_batch) / (tok_single / t_single), 2),
           "shared_prefix_tokens": len(llm._prefix[0]) if llm._prefix else 0,
           "identical_outputs": f"{same}/{n}", "torch_threads": torch.get_num_threads(),
           "load_average_1min_at_end": round(os.getloadavg()[0], 1),
           "sample": [c.text for c in batched[:3]]}
    print(json.dumps(row, indent=1))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["server", "local"], required=True)
    ap.add_argument("--delay", type=float, default=0.2, help="server answer delay, seconds")
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--questions", type=int, default=1, help="questions asked for per prompt")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 avoids OpenMP stalls on a shared machine)")
    ap.add_argument("--prompt-file", default=None, help="a prompt template (default: the bundled one)")
    a = ap.parse_args()
    result = (part_server(a.delay) if a.part == "server" else
              part_local(a.model, a.prompts, a.batch, a.max_tokens, a.threads, a.questions, a.prompt_file))
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "server" if a.part == "server" else f"local_{a.model}_b{a.batch}_q{a.questions}_t{a.max_tokens}"
    (RESULTS / f"generate_throughput_{name}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
