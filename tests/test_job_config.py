"""runs.inputs.job_config: ready objects used as is and recorded by name, one InputError for bad settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from ragtune.errors import InputError
from ragtune.runs.inputs import job_config


class _Cfg(BaseModel):
    data: str
    llm: str = "local"
    files: list[str] = []
    n: int = Field(3, ge=1)


class _Named:
    name = "my-dataset"


class _Model:
    name = None
    model = "gpt-x"


def test_objects_are_kept_and_recorded_by_name_model_or_row_count():
    rows = [{"q": "a"}, {"q": "b"}]
    cfg, objects = job_config(_Cfg, None, {"data": rows, "llm": _Model(), "files": [Path("a"), "b"]})
    assert cfg.data == "2 given rows" and cfg.llm == "gpt-x" and cfg.files == ["a", "b"]
    assert objects["data"] is rows and set(objects) == {"data", "llm"}
    cfg2, objects2 = job_config(_Cfg, cfg, {"data": _Named(), "n": 5})
    assert (cfg2.data, cfg2.llm, cfg2.n) == ("my-dataset", "gpt-x", 5) and set(objects2) == {"data"}


def test_bad_settings_raise_one_input_error_naming_each_field():
    with pytest.raises(InputError, match=r"^bad my-job setting\(s\): files\.0: Input should be a valid string; "
                                         r"n: Input should be greater than or equal to 1$"):
        job_config(_Cfg, None, {"data": "x", "n": 0, "files": [3]}, what="my-job")
    with pytest.raises(InputError, match=r"bad _Cfg setting\(s\): data: Field required"):
        job_config(_Cfg, None, {})
