"""The table of bad inputs: one row per case, grouped by command. Adding a command's cases is a few rows.

    C("data chunk", "{docs} -o {tmp}/out.json --chunk-size 0", r"--chunk-size", out="{tmp}/out.json")

- the command, then its arguments (split on spaces): `{name}` is a fixture of fixtures.py, `{tmp}` a fresh
  empty folder of this case, `{hub}` a hub id that is not cached, `{closed}` an OpenAI base URL on a
  closed 127.0.0.1 port;
- `expect`: a regex (case-insensitive) that the `error:` line (or the hint line after it) must match: it
  names the problem, the option or the file;
- `out`: a single output file that must not exist afterwards (nothing half-written);
- `env`: extra environment variables; `needs`: a fixture that must be non-empty (else the case is skipped).

Every case must fail before any model is loaded or any LLM is called: that is the point of checking early,
and what keeps the battery fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    command: str
    args: str
    expect: str
    out: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    needs: str | None = None
    name: str = ""

    @property
    def id(self) -> str:
        return f"{self.command.replace(' ', '-')}:{self.name or self.args}"


C = Case
KEY = {"OPENAI_API_KEY": "sk-test-not-a-real-key"}

CASES: list[Case] = [
    # -- typer/click usage errors (one line too)
    C("", "no-such-command", r"no such command", name="unknown command"),
    C("data chunk", "", r"missing argument", name="missing argument"),
    C("data chunk", "{docs}", r"missing option.*--output", name="missing option"),
    C("data chunk", "{docs} -o {tmp}/out.json --chunk-size abc", r"--chunk-size.*integer", name="not an int"),
    C("data chunk", "{docs} -o {tmp}/out.json --bogus", r"no such option.*--bogus", name="unknown option"),
    C("train adapter", "{good} -o {tmp}/run --kind cubic", r"--kind.*cubic", name="bad choice"),

    # -- data chunk
    C("data chunk", "{docs} -o {afile}/out.json", r"afile.*(is a file|not a folder)", name="file in the way"),
    C("data chunk", "{docs} -o {rodir}/out.json", r"rodir.*(read-only|permission|not writable|cannot write)",
      needs="rodir_how", name="read-only folder"),
    C("data chunk", "{docs} -o {dir_json}", r"dir\.json.*is a folder", name="folder named like the output"),
    C("data chunk", "{docs} -o /proc/ragtune-battery/out.json", r"/proc/ragtune-battery.*(cannot|not writable|permission|"
      r"read-only|does not exist|no such)", name="output under /proc"),
    C("data chunk", "{docs} -o {loop}/out.json", r"loop.*symlink loop", name="output through a symlink loop"),
    C("data chunk", "{docs} -o {tmp}/out.json --chunk-size 0", r"--chunk-size", out="{tmp}/out.json"),
    C("data chunk", "{docs} -o {tmp}/out.json --chunk-size -5", r"--chunk-size", out="{tmp}/out.json"),
    C("data chunk", "{docs} -o {tmp}/out.json --overlap -1", r"--overlap", out="{tmp}/out.json"),
    C("data chunk", "{docs} -o {tmp}/out.json --chunk-size 64 --overlap 64", r"--overlap", out="{tmp}/out.json"),
    C("data chunk", "{missing} -o {tmp}/out.json", r"missing\.json.*(does not exist|not found)", out="{tmp}/out.json"),
    C("data chunk", "{loop} -o {tmp}/out.json", r"loop.*symlink loop", out="{tmp}/out.json", name="input symlink loop"),
    C("data chunk", "{dangling_link} -o {tmp}/out.json", r"dangling_link.*(broken symlink|points to)", out="{tmp}/out.json"),
    C("data chunk", "{pdfdocs} -o {tmp}/out.json", r"no usable documents|cut\.pdf", out="{tmp}/out.json", name="truncated pdf"),
    C("data chunk", "{garbagedocs} -o {tmp}/out.json", r"no usable documents|utf-8", out="{tmp}/out.json", name="binary garbage"),
    C("data chunk", "{emptydocs} -o {tmp}/out.json", r"no files found", out="{tmp}/out.json", name="empty folder"),
    C("data chunk", "{docs} -o {tmp}/out.json --chunk-tokenizer {hub}", r"not-a-cached-model.*(cache|offline)", out="{tmp}/out.json"),

    # -- data convert
    C("data convert", "{garbage_json} -o {tmp}/out.json", r"garbage\.json.*(utf-8|json)", out="{tmp}/out.json"),
    C("data convert", "{truncated} -o {tmp}/out.json", r"truncated\.json.*json", out="{tmp}/out.json"),
    C("data convert", "{latin1} -o {tmp}/out.json", r"latin1\.json.*utf-8", out="{tmp}/out.json"),
    C("data convert", "{dup_ids} -o {tmp}/out.json", r"dup_ids\.json.*(duplicate|twice|repeated).*a1", out="{tmp}/out.json"),
    C("data convert", "{dup_ids_jsonl} -o {tmp}/out.json", r"dup_ids\.jsonl.*(duplicate|twice|repeated).*a1", out="{tmp}/out.json"),
    C("data convert", "{int_text} -o {tmp}/out.json", r"int_text\.json.*corpus.*a2.*(string|text)", out="{tmp}/out.json"),
    C("data convert", "{int_text_jsonl} -o {tmp}/out.json", r"int_text\.jsonl:2.*(string|text)", out="{tmp}/out.json"),
    C("data convert", "{dangling} -o {tmp}/out.json", r"dangling.*no-such-doc.*not in the corpus", out="{tmp}/out.json"),
    C("data convert", "{not_object} -o {tmp}/out.json", r"list\.json.*object", out="{tmp}/out.json"),
    C("data convert", "{beir_noqrels} -o {tmp}/out", r"beir_noqrels.*qrels"),
    C("data convert", "{good} -o {afile}/out.json", r"afile.*(is a file|not a folder)", name="file in the way"),
    C("data convert", "{good} -o {dir_json}", r"dir\.json.*is a folder", name="folder named like the output"),
    C("data convert", "{good} -o {tmp}/out.json --to xml", r"--to.*xml", out="{tmp}/out.json"),

    # -- data split
    C("data split", "{good} -o {tmp}/split --val-fraction 0", r"--val-fraction"),
    C("data split", "{good} -o {tmp}/split --val-fraction 1.5", r"--val-fraction"),
    C("data split", "{good} -o {afile}", r"afile.*(is a file|not a folder)", name="output is a file"),
    C("data split", "{one_source} -o {tmp}/split", r"source"),
    C("data split", "{dangling} -o {tmp}/split", r"no-such-doc.*not in the corpus"),
    C("data split", "{dup_ids} -o {tmp}/split", r"(duplicate|twice|repeated).*a1"),

    # -- data info
    C("data info", "{int_text}", r"int_text\.json.*corpus.*a2.*(string|text)"),
    C("data info", "{int_query}", r"int_query\.json.*quer.*q3.*(string|text)"),
    C("data info", "{int_text_jsonl}", r"int_text\.jsonl:2.*(string|text)"),
    C("data info", "{dup_ids}", r"(duplicate|twice|repeated).*a1"),
    C("data info", "{loop}", r"loop.*symlink loop"),
    C("data info", "{missing}", r"missing\.json.*not found"),
    C("data info", "{garbage_json}", r"garbage\.json.*(utf-8|json)"),

    # -- data validate
    C("data validate", "{chat_latin1}", r"chat_latin1\.jsonl.*utf-8"),
    C("data validate", "{chat_garbage}", r"chat_garbage\.jsonl.*(utf-8|json)"),
    C("data validate", "{chat_int}", r"chat_int\.jsonl.*1.*(content|string)"),
    C("data validate", "{chat_empty}", r"chat_empty\.jsonl.*(empty|no (rows|conversations|examples))"),
    C("data validate", "{dup_ids}", r"(duplicate|twice|repeated).*a1"),
    C("data validate", "{int_text}", r"int_text\.json.*a2.*(string|text)"),
    C("data validate", "{chat} --show -1", r"--show"),
    C("data validate", "{chat} --max-length 0", r"--max-length"),
    C("data validate", "{chat} --price-per-mtok -1", r"--price-per-mtok"),
    C("data validate", "{chat} -o {afile}/valid.jsonl", r"afile.*(is a file|not a folder)"),
    C("data validate", "{chat} --model {hub}", r"not-a-cached-model.*(cache|offline)"),
    C("data validate", "{missing}", r"missing\.json.*not found"),
    C("data validate", "{loop}", r"loop.*symlink loop"),

    # -- eval retrieval
    C("eval retrieval", "{good} -m minilm --batch-size 0", r"--batch-size"),
    C("eval retrieval", "{good} -m minilm --bootstrap -1", r"--bootstrap"),
    C("eval retrieval", "{good} -m minilm --k 0", r"--k"),
    C("eval retrieval", "{good} -m minilm --index annoy", r"--index.*annoy"),
    C("eval retrieval", "{good} -m {hub}", r"not-a-cached-model.*(cache|offline)"),
    C("eval retrieval", "{good} -m minilm --json {afile}/r.json", r"afile.*(is a file|not a folder)"),
    C("eval retrieval", "{dangling} -m minilm", r"no-such-doc.*not in the corpus"),
    C("eval retrieval", "{dup_ids} -m minilm", r"(duplicate|twice|repeated).*a1"),

    # -- eval rerank
    C("eval rerank", "{good} --retriever minilm --reranker minilm --top-k 0", r"--top-k"),
    C("eval rerank", "{good} --retriever minilm --reranker minilm --latency-queries -1", r"--latency-queries"),
    C("eval rerank", "{good} --retriever minilm --reranker minilm --batch-size 0", r"--batch-size"),
    C("eval rerank", "{good} --retriever minilm --reranker minilm --max-length 0", r"--max-length"),
    C("eval rerank", "{good} --retriever minilm --reranker {tmp}/nope", r"nope.*(does not exist|not found)"),
    C("eval rerank", "{good} --retriever {hub} --reranker minilm", r"not-a-cached-model.*(cache|offline)"),
    C("eval rerank", "{good} --retriever minilm --reranker minilm --json {afile}/r.json", r"afile.*(is a file|not a folder)"),
    C("eval rerank", "{dangling} --retriever minilm --reranker minilm", r"no-such-doc.*not in the corpus"),

    # -- eval sft
    C("eval sft", "{chat} -m smollm2-135m-instruct --generate -1", r"--generate"),
    C("eval sft", "{chat} -m smollm2-135m-instruct --max-new-tokens 0", r"--max-new-tokens"),
    C("eval sft", "{chat} -m smollm2-135m-instruct --batch-size 0", r"--batch-size"),
    C("eval sft", "{chat} -m smollm2-135m-instruct --max-length 0", r"--max-length"),
    C("eval sft", "{chat_latin1} -m smollm2-135m-instruct", r"chat_latin1\.jsonl.*utf-8"),
    C("eval sft", "{chat_int} -m smollm2-135m-instruct", r"chat_int\.jsonl.*(content|string)"),
    C("eval sft", "{chat} -m {hub}", r"not-a-cached-model.*(cache|offline)"),
    C("eval sft", "{chat} -m smollm2-135m-instruct --json {afile}/r.json", r"afile.*(is a file|not a folder)"),

    # -- generate queries (an unreachable server, a bad option: refused before any call)
    C("generate queries", "{docs} -o {tmp}/gen -c 0", r"--concurrency"),
    C("generate queries", "{docs} -o {tmp}/gen -n -1", r"--questions-per-chunk"),
    C("generate queries", "{docs} -o {tmp}/gen --filter-top-k 0", r"--filter-top-k"),
    C("generate queries", "{docs} -o {tmp}/gen --timeout 0", r"--timeout"),
    C("generate queries", "{docs} -o {tmp}/gen --min-words 9 --max-words 4", r"--min-words|--max-words"),
    C("generate queries", "{docs} -o {tmp}/gen --chunk-size 64 --overlap 64", r"--overlap"),
    C("generate queries", "{docs} -o {tmp}/gen --llm bogus", r"--llm.*bogus"),
    C("generate queries", "{docs} -o {tmp}/gen --llm openai:m --base-url {closed} --no-filter",
      r"127\.0\.0\.1.*(connect|reach)", name="unreachable server"),
    C("generate queries", "{docs} -o {tmp}/gen --llm openai:m --base-url {closed}", r"127\.0\.0\.1.*(connect|reach)",
      name="unreachable server, filter on"),
    C("generate queries", "{docs} -o {tmp}/gen --llm local:{hub} --no-filter", r"not-a-cached-model.*(cache|offline)"),
    C("generate queries", "{docs} -o {tmp}/gen --filter-model {hub} --llm openai:m --base-url {closed}",
      r"not-a-cached-model.*(cache|offline)"),
    C("generate queries", "{docs} -o {afile} --llm openai:m --base-url {closed}", r"afile.*(is a file|not a folder)"),
    C("generate queries", "{docs} -o {tmp}/gen --prompt-file {prompt_nopassage} --llm openai:m --base-url {closed}",
      r"prompt\.txt.*\{passage\}"),
    C("generate queries", "{docs} -o {tmp}/gen --examples {missing} --llm openai:m --base-url {closed}",
      r"missing\.json.*(not found|does not exist)"),

    # -- generate negatives
    C("generate negatives", "{dangling} -o {tmp}/negs.json", r"no-such-doc.*not in the corpus", out="{tmp}/negs.json"),
    C("generate negatives", "{dup_ids} -o {tmp}/negs.json", r"(duplicate|twice|repeated).*a1", out="{tmp}/negs.json"),
    C("generate negatives", "{good} -o {tmp}/negs.json --num-negatives 0", r"--num-negatives", out="{tmp}/negs.json"),
    C("generate negatives", "{good} -o {tmp}/negs.json --depth 0", r"--depth", out="{tmp}/negs.json"),
    C("generate negatives", "{good} -o {tmp}/negs.json --skip-top -1", r"--skip-top", out="{tmp}/negs.json"),
    C("generate negatives", "{good} -o {tmp}/negs.json --margin -1", r"--margin", out="{tmp}/negs.json"),
    C("generate negatives", "{good} -o {afile}/negs.json", r"afile.*(is a file|not a folder)"),
    C("generate negatives", "{good} -o {tmp}/negs.json -r {hub}", r"not-a-cached-model.*(cache|offline)", out="{tmp}/negs.json"),

    # -- generate judge-data (every model and server checked before the first call)
    C("generate judge-data", "{qa} -o {tmp}/jd --labels bogus", r"--labels.*bogus"),
    C("generate judge-data", "{qa} -o {tmp}/jd", r"--teacher"),
    C("generate judge-data", "{qa} -o {tmp}/jd --labels truth --test-fraction 1", r"--test-fraction"),
    C("generate judge-data", "{qa} -o {tmp}/jd --labels truth -c 0", r"--concurrency"),
    C("generate judge-data", "{qa} -o {tmp}/jd --labels truth --limit 0", r"--limit"),
    C("generate judge-data", "{qa} -o {tmp}/jd --teacher openai:m --base-url {closed}", r"127\.0\.0\.1.*(connect|reach)",
      name="unreachable teacher"),
    C("generate judge-data", "{qa} -o {tmp}/jd --teacher local:{hub}", r"not-a-cached-model.*(cache|offline)"),
    C("generate judge-data", "{qa} -o {tmp}/jd --labels truth --answer-with {hub}", r"not-a-cached-model.*(cache|offline)"),
    C("generate judge-data", "{qa_latin1} -o {tmp}/jd --labels truth", r"qa_latin1\.jsonl.*utf-8"),
    C("generate judge-data", "{qa_dup} -o {tmp}/jd --labels truth", r"qa_dup\.jsonl.*duplicate.*p1"),
    C("generate judge-data", "{qa_noref} -o {tmp}/jd --labels truth", r"qa_noref\.jsonl.*row 2.*reference"),
    C("generate judge-data", "{missing} -o {tmp}/jd --labels truth", r"missing\.json.*not found"),
    C("generate judge-data", "{qa} -o {afile} --labels truth", r"afile.*(is a file|not a folder)"),
    C("generate judge-data", "{qa} -o {tmp}/jd --labels truth --answers {missing}", r"missing\.json.*not found"),
    C("generate judge-data", "{qa} -o {tmp}/jd --labels truth --answers {answers_unknown}", r"not questions of the QA set.*zz9"),

    # -- eval judge
    C("eval judge", "{judge_data} -j teacher --split bogus", r"--split.*bogus"),
    C("eval judge", "{judge_data} -j teacher --bootstrap 0", r"--bootstrap"),
    C("eval judge", "{missing} -j teacher", r"missing\.json.*items\.jsonl"),
    C("eval judge", "{judge_data_bad} -j teacher", r"items\.jsonl, line 2"),
    C("eval judge", "{judge_data} -j teacher", r"teacher.*no teacher\.jsonl", name="no stored teacher"),
    C("eval judge", "{judge_data} -j local:{hub}", r"not-a-cached-model.*(cache|offline)"),
    C("eval judge", "{judge_data} -j openai:m --base-url {closed}", r"127\.0\.0\.1.*(connect|reach)", name="unreachable judge"),
    C("eval judge", "{judge_data} -j teacher --json {afile}/r.json", r"afile.*(is a file|not a folder)"),

    # -- eval rag
    C("eval rag", "{qa} --corpus {good} -r minilm -g smollm2-135m-instruct -r minilm -o {tmp}/rag", r"one --generator per --retriever"),
    C("eval rag", "{qa} --corpus {good} -r minilm -g smollm2-135m-instruct -o {tmp}/rag --k 0", r"--k"),
    C("eval rag", "{qa} --corpus {good} -r minilm -g smollm2-135m-instruct -o {tmp}/rag --pipeline-name a --pipeline-name b", r"--pipeline-name"),
    C("eval rag", "{qa} -r minilm -g smollm2-135m-instruct -o {tmp}/rag", r"--corpus"),
    C("eval rag", "{qa} --corpus {dangling} -r minilm -g smollm2-135m-instruct -o {tmp}/rag", r"no-such-doc.*not in the corpus"),
    C("eval rag", "{qa_baddoc} --corpus {good} -r minilm -g smollm2-135m-instruct -o {tmp}/rag", r"no-such-doc.*not in the --corpus"),
    C("eval rag", "{qa} --corpus {good} -r {hub} -g smollm2-135m-instruct -o {tmp}/rag", r"not-a-cached-model.*(cache|offline)"),
    C("eval rag", "{qa} --corpus {good} -r minilm -g local:{hub} -o {tmp}/rag", r"not-a-cached-model.*(cache|offline)"),
    C("eval rag", "{qa} --corpus {good} -r minilm -g smollm2-135m-instruct -j openai:m --base-url {closed} -o {tmp}/rag",
      r"127\.0\.0\.1.*(connect|reach)", name="unreachable judge"),
    C("eval rag", "{qa} --corpus {good} -r minilm -g smollm2-135m-instruct -o {afile}", r"afile.*(is a file|not a folder)"),
    C("eval rag", "{qa_latin1} --corpus {good} -r minilm -g smollm2-135m-instruct -o {tmp}/rag", r"qa_latin1\.jsonl.*utf-8"),

    # -- train adapter
    C("train adapter", "{good} -o {tmp}/run --epochs 0", r"--epochs"),
    C("train adapter", "{good} -o {tmp}/run --batch-size 0", r"--batch-size"),
    C("train adapter", "{good} -o {tmp}/run --learning-rate -1", r"--learning-rate"),
    C("train adapter", "{good} -o {tmp}/run --val-fraction 1", r"--val-fraction"),
    C("train adapter", "{good} -o {tmp}/run -m {hub}", r"not-a-cached-model.*(cache|offline)"),
    C("train adapter", "{good} -o {tmp}/run --teacher {hub}", r"not-a-cached-model.*(cache|offline)"),
    C("train adapter", "{good} -o {afile}", r"afile.*(is a file|not a folder)"),
    C("train adapter", "{dangling} -o {tmp}/run", r"no-such-doc.*not in the corpus"),
    C("train adapter", "{good} -o {tmp}/run --eval-dataset {dup_ids}", r"(duplicate|twice|repeated).*a1"),

    # -- train embedding
    C("train embedding", "{good} -o {tmp}/run --epochs -5", r"--epochs"),
    C("train embedding", "{good} -o {tmp}/run --batch-size 0", r"--batch-size"),
    C("train embedding", "{good} -o {tmp}/run --max-seq-length 0", r"--max-seq-length"),
    C("train embedding", "{good} -o {tmp}/run --matryoshka-dims 64,-1", r"--matryoshka-dims"),
    C("train embedding", "{good} -o {tmp}/run --max-steps -7", r"--max-steps"),
    C("train embedding", "{good} -o {tmp}/run -m {hub}", r"not-a-cached-model.*(cache|offline)"),
    C("train embedding", "{good} -o {afile}", r"afile.*(is a file|not a folder)"),
    C("train embedding", "{int_text} -o {tmp}/run", r"int_text\.json.*a2.*(string|text)"),

    # -- train reranker
    C("train reranker", "{good} -o {tmp}/run --top-k 0", r"--top-k"),
    C("train reranker", "{good} -o {tmp}/run --num-negatives -1", r"--num-negatives"),
    C("train reranker", "{good} -o {tmp}/run --margin 0", r"--margin"),
    C("train reranker", "{good} -o {tmp}/run --batch-size 0", r"--batch-size"),
    C("train reranker", "{good} -o {tmp}/run -m {hub}", r"not-a-cached-model.*(cache|offline)"),
    C("train reranker", "{good} -o {tmp}/run --retriever {hub}", r"not-a-cached-model.*(cache|offline)"),
    C("train reranker", "{good} -o {tmp}/run --teacher {hub}", r"not-a-cached-model.*(cache|offline)"),
    C("train reranker", "{good} -o {tmp}/run --label-with local:{hub}", r"not-a-cached-model.*(cache|offline)"),
    C("train reranker", "{dangling} -o {tmp}/run", r"no-such-doc.*not in the corpus"),

    # -- train sft
    C("train sft", "{chat} -o {tmp}/run --lora-r 0", r"--lora-r"),
    C("train sft", "{chat} -o {tmp}/run --epochs -5", r"--epochs"),
    C("train sft", "{chat} -o {tmp}/run --batch-size 0", r"--batch-size"),
    C("train sft", "{chat} -o {tmp}/run --max-length 0", r"--max-length"),
    C("train sft", "{chat} -o {tmp}/run --val-fraction 1", r"--val-fraction"),
    C("train sft", "{chat_latin1} -o {tmp}/run", r"chat_latin1\.jsonl.*utf-8"),
    C("train sft", "{chat_int} -o {tmp}/run", r"chat_int\.jsonl.*(content|string)"),
    C("train sft", "{chat} -o {tmp}/run -m {hub}", r"not-a-cached-model.*(cache|offline)"),
    C("train sft", "{chat} -o {afile}", r"afile.*(is a file|not a folder)"),

    # -- sft merge, sft submit
    C("sft merge", "{tmp}/nope", r"nope.*(does not exist|not found)"),
    C("sft merge", "{empty_run}", r"empty_run.*(no model|adapter|not a)"),
    C("sft merge", "{empty_run} -o {afile}/merged", r"afile.*(is a file|not a folder)"),
    C("sft submit", "{chat} --base-url {closed} --poll 0", r"--poll", env=KEY),
    C("sft submit", "{chat} --base-url {closed} --timeout -1", r"--timeout", env=KEY),
    C("sft submit", "{chat} --base-url {closed} --epochs 0", r"--epochs", env=KEY),
    C("sft submit", "{chat} --base-url {closed} -o {tmp}/job.json", r"127\.0\.0\.1.*(connect|reach)", env=KEY,
      out="{tmp}/job.json", name="unreachable server"),
    C("sft submit", "{chat_latin1} --base-url {closed}", r"chat_latin1\.jsonl.*utf-8", env=KEY),
    C("sft submit", "{chat} --base-url {closed} -o {afile}/job.json", r"afile.*(is a file|not a folder)", env=KEY),

    # -- chat
    C("chat", "smollm2-135m-instruct --prompt hi --max-new-tokens 0", r"--max-new-tokens"),
    C("chat", "smollm2-135m-instruct --prompt hi --temperature -1", r"--temperature"),
    C("chat", "{hub} --prompt hi", r"not-a-cached-model.*(cache|offline)"),
    C("chat", "./no-such-model-folder --prompt hi", r"no-such-model-folder.*(does not exist|not found)"),

    # -- distill (every model checked before the first teacher call)
    C("distill", "{docs} -o {tmp}/run --teacher openai:m --base-url {closed}", r"127\.0\.0\.1.*(connect|reach)",
      name="unreachable teacher"),
    C("distill", "{docs} -o {tmp}/run --teacher openai:m --base-url {closed} --student {hub}", r"not-a-cached-model.*(cache|offline)"),
    C("distill", "{docs} -o {tmp}/run --teacher local:{hub}", r"not-a-cached-model.*(cache|offline)"),
    C("distill", "{docs} -o {tmp}/run --teacher openai:m --base-url {closed} --retriever {hub}", r"not-a-cached-model.*(cache|offline)"),
    C("distill", "{docs} -o {tmp}/run --top-k 0", r"--top-k"),
    C("distill", "{docs} -o {tmp}/run --lora-r 0", r"--lora-r"),
    C("distill", "{docs} -o {tmp}/run --epochs -5", r"--epochs"),
    C("distill", "{docs} -o {afile} --teacher openai:m --base-url {closed}", r"afile.*(is a file|not a folder)"),

    # -- run (the whole pipeline: every model and the data checked before the first LLM call)
    C("run", "{docs} -o {tmp}/run -m {hub} --llm openai:m --base-url {closed}", r"not-a-cached-model.*(cache|offline)"),
    C("run", "{docs} -o {tmp}/run --teacher {hub} --llm openai:m --base-url {closed}", r"not-a-cached-model.*(cache|offline)"),
    C("run", "{docs} -o {tmp}/run --llm local:{hub}", r"not-a-cached-model.*(cache|offline)"),
    C("run", "{docs} -o {tmp}/run --llm openai:m --base-url {closed}", r"127\.0\.0\.1.*(connect|reach)", name="unreachable llm"),
    C("run", "{docs} -o {tmp}/run --max-chunks -5", r"--max-chunks"),
    C("run", "{docs} -o {tmp}/run -n 0", r"--questions-per-chunk"),
    C("run", "{docs} -o {tmp}/run --adapter-kind cubic", r"--adapter-kind.*cubic"),
    C("run", "{docs} -o {tmp}/run --eval-dataset {dangling} --llm openai:m --base-url {closed}",
      r"no-such-doc.*not in the corpus"),
    C("run", "{docs} -o {afile} --llm openai:m --base-url {closed}", r"afile.*(is a file|not a folder)"),

    # -- report (a run folder or an evaluation report)
    C("report", "", r"missing argument", name="no run"),
    C("report", "{tmp}/no-such-run", r"no-such-run.*no such run folder"),
    C("report", "{tmp}", r"not a finished ragtune run.*metrics\.json", name="a folder that is not a run"),
    C("report", "{good}", r"not a ragtune evaluation report", name="a dataset instead of a report"),
    C("report", "{afile}", r"afile.*not a readable evaluation report", name="not json"),

    # -- label
    C("label", "{queries} --corpus {good} -o {tmp}/labels.json --top-k 0", r"--top-k", out="{tmp}/labels.json"),
    C("label", "{queries} --corpus {good} -o {tmp}/labels.json --chars 10", r"--chars", out="{tmp}/labels.json"),
    C("label", "{queries} --corpus {docs} -o {tmp}/labels.json --chunk-size 0", r"--chunk-size", out="{tmp}/labels.json"),
    C("label", "{queries} --corpus {good} -o {tmp}/labels.json --model {hub}", r"not-a-cached-model.*(cache|offline)",
      out="{tmp}/labels.json"),
    C("label", "{queries} --corpus {good} -o {tmp}/labels.json --teacher {hub}", r"not-a-cached-model.*(cache|offline)",
      out="{tmp}/labels.json"),
    C("label", "{queries_latin1} --corpus {good} -o {tmp}/labels.json", r"queries_latin1\.txt.*utf-8", out="{tmp}/labels.json"),
    C("label", "{queries} --corpus {good} -o {afile}/labels.json", r"afile.*(is a file|not a folder)"),
    C("label", "{queries} --corpus {dup_ids} -o {tmp}/labels.json", r"(duplicate|twice|repeated).*a1", out="{tmp}/labels.json"),
    C("label", "{missing} --corpus {good} -o {tmp}/labels.json", r"missing\.json.*not found", out="{tmp}/labels.json"),

    # -- export cohere-rerank
    C("export cohere-rerank", "{good} -o {tmp}/c.jsonl --retriever minilm --num-negatives 0", r"--num-negatives", out="{tmp}/c.jsonl"),
    C("export cohere-rerank", "{good} -o {tmp}/c.jsonl --retriever minilm --margin -1", r"--margin", out="{tmp}/c.jsonl"),
    C("export cohere-rerank", "{good} -o {afile}/c.jsonl", r"afile.*(is a file|not a folder)"),
    C("export cohere-rerank", "{good} -o {dir_jsonl}", r"dir\.jsonl.*is a folder"),
    C("export cohere-rerank", "{dangling} -o {tmp}/c.jsonl", r"no-such-doc.*not in the corpus", out="{tmp}/c.jsonl"),
    C("export cohere-rerank", "{good} -o {tmp}/c.jsonl --retriever {hub}", r"not-a-cached-model.*(cache|offline)", out="{tmp}/c.jsonl"),

    # -- eval sql
    C("eval sql", "{spider_rows} --tables {spider_tables}", r"--model.*--predictions", name="no model"),
    C("eval sql", "{spider_rows} --tables {spider_tables} -m {hub}", r"not-a-cached-model.*(cache|offline)"),
    C("eval sql", "{spider_rows} --tables {spider_tables} --predictions {pred_one}", r"1 predictions for 2 questions"),
    C("eval sql", "{spider_baddb} --tables {spider_tables} --predictions {pred_one}", r"db_id 'nope' is not in the tables"),
    C("eval sql", "{sql_noquery} --tables {spider_tables} --predictions {pred_one}", r"field 'query' is missing"),
    C("eval sql", "{missing} --predictions {pred_one}", r"missing\.json.*no such file"),
    C("eval sql", "{garbage_json} --tables {spider_tables} --predictions {pred_one}", r"garbage\.json.*(utf-8|json)"),
    C("eval sql", "{spider_rows} --tables {spider_tables} --predictions {missing}", r"missing\.json"),
    C("eval sql", "{spider_rows} --tables {garbage_json} --predictions {pred_one}", r"garbage\.json"),
    C("eval sql", "{spider_rows} --tables {spider_tables} --predictions {pred_one} --fills 0", r"--fills"),
    C("eval sql", "{spider_rows} --tables {spider_tables} --predictions {pred_one} --json {afile}/r.json",
      r"afile.*(is a file|not a folder)"),
    C("eval sql", "{spider_one_db} --tables {spider_tables} --predictions {pred_one} --db {garbage_json}",
      r"garbage\.json.*not a readable sqlite"),

    # -- sql prepare
    C("sql prepare", "{spider_rows} --tables {spider_tables} -o {afile}/d", r"afile.*(is a file|not a folder)"),
    C("sql prepare", "{spider_rows} --tables {spider_tables} -o {tmp}/d --format xml", r"--format.*xml"),
    C("sql prepare", "{spider_rows} --tables {spider_tables} -o {tmp}/d --test-share 1.5", r"--test-share"),
    C("sql prepare", "{spider_one_db} --tables {spider_tables} -o {tmp}/d --test-share 0.5", r"at least 2 databases"),
    C("sql prepare", "{cc_noanswer} -o {tmp}/d --format create-context", r"field 'answer' is missing"),
    C("sql prepare", "{missing} -o {tmp}/d", r"missing\.json.*no such file"),

    # -- sql ask
    C("sql ask", "how-many-shops --db {missing} -m smollm2-135m-instruct", r"missing\.json.*does not exist"),
    C("sql ask", "how-many-shops --db {garbage_json} -m smollm2-135m-instruct", r"garbage\.json.*not a readable sqlite"),
    C("sql ask", "how-many-shops --db {sqlitedb} -m {hub}", r"not-a-cached-model.*(cache|offline)"),
    C("sql ask", "how-many-shops --db {sqlitedb} -m smollm2-135m-instruct --max-new-tokens 0", r"--max-new-tokens"),

    # -- generate sql
    C("generate sql", "--db {missing} -o {tmp}/g", r"missing\.json.*does not exist"),
    C("generate sql", "--db {garbage_json} -o {tmp}/g", r"garbage\.json.*not a readable sqlite"),
    C("generate sql", "--db {sqlitedb} -o {afile}/g", r"afile.*(is a file|not a folder)"),
    C("generate sql", "--db {sqlitedb} -o {tmp}/g --pairs-per-call 0", r"--pairs-per-call"),
    C("generate sql", "--db {sqlitedb} -o {tmp}/g --llm local:{hub}", r"not-a-cached-model.*(cache|offline)"),
    C("generate sql", "--db {sqlitedb} -o {tmp}/g --llm openai:m --base-url {closed}", r"127\.0\.0\.1"),

    # -- eval json, data faq-json
    C("eval json", "{json_chat} --schema {missing} -m smollm2-135m-instruct", r"missing\.json"),
    C("eval json", "{json_chat} --schema {garbage_json} -m smollm2-135m-instruct", r"garbage\.json.*not a json"),
    C("eval json", "{json_chat} --schema {bad_schema} -m smollm2-135m-instruct", r"not a valid json schema"),
    C("eval json", "{chat} --schema {json_schema} -m smollm2-135m-instruct", r"chat\.jsonl.*not json"),
    C("eval json", "{json_chat} --schema {json_schema} -m {hub}", r"not-a-cached-model.*(cache|offline)"),
    C("eval json", "{json_chat} --schema {json_schema} -m smollm2-135m-instruct --max-new-tokens 0", r"--max-new-tokens"),
    C("eval json", "{json_chat} --schema {json_schema} -m smollm2-135m-instruct --json {afile}/r.json",
      r"afile.*(is a file|not a folder)"),
    C("data faq-json", "-o {afile}/faq", r"afile.*(is a file|not a folder)"),
    C("data faq-json", "-o {tmp}/faq --test-share 0", r"--test-share"),

    # -- assets
    C("assets prepare", "no-such-asset", r"unknown asset.*no-such-asset"),
    C("assets", "--bogus", r"no such option.*--bogus"),
]
