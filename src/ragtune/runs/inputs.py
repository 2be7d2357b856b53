"""A job's configuration from a config object and keyword fields, where a field may be a ready object.

    train_embedding(dataset=my_dataset, output="runs/e", teacher=my_embedder)
    generate_sql(db="shop.sqlite", output="gen/", llm=FakeLLM(...))

A value that is not plain data (a `RetrievalDataset`, an `Embedder`, an `LLM`, a list of rows) is used as
is and recorded in the config by its `name` (or its `model`; a list of objects as "N given rows"), so
config.json stays plain JSON and the job still gets the object. Bad settings raise `InputError` naming
each field and what is wrong, the same message for every job, from Python as from the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ragtune.errors import InputError

__all__ = ["job_config", "plain_value"]

C = TypeVar("C", bound=BaseModel)
_SCALAR = (str, int, float, bool, type(None), Path)


def _is_plain(value: Any) -> bool:
    if isinstance(value, _SCALAR):
        return True
    if isinstance(value, (list, tuple)):
        return all(isinstance(v, _SCALAR) for v in value)
    return isinstance(value, dict)


def plain_value(value: Any) -> Any:
    """A Path (or a list of them) as str, for a config field; anything else unchanged."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [str(v) if isinstance(v, Path) else v for v in value]
    return value


def _name(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return f"{len(value)} given rows"
    return str(getattr(value, "name", None) or getattr(value, "model", None) or type(value).__name__)


def job_config(cls: type[C], config: C | None, fields: dict[str, Any], *, what: str | None = None
               ) -> tuple[C, dict[str, Any]]:
    """(the validated config, the objects given in place of names) from `config` updated by `fields`.

    `what` names the job in errors ("bad generate-sql setting(s): ..."; default: the config class)."""
    objects = {k: v for k, v in fields.items() if not _is_plain(v)}
    plain = {k: plain_value(v) for k, v in fields.items() if k not in objects}
    names = {k: _name(v) for k, v in objects.items()}
    base = config.model_dump() if config is not None else {}
    try:
        return cls.model_validate({**base, **plain, **names}), objects
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" if err["loc"]
                             else err["msg"].removeprefix("Value error, ") for err in e.errors())
        raise InputError(f"bad {what or cls.__name__} setting(s): {problems}") from None
