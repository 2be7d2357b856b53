"""A job's configuration from a config object and keyword fields, where a field may be a ready object.

    train_embedding(dataset=my_dataset, output="runs/e", teacher=my_embedder)

A value that is not plain data (a `RetrievalDataset`, an `Embedder`) is used as is and recorded in the
config by its `name`, so config.json stays plain JSON and the job still gets the object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["job_config"]

C = TypeVar("C", bound=BaseModel)
_PLAIN = (str, int, float, bool, type(None), list, tuple, dict)


def job_config(cls: type[C], config: C | None, fields: dict[str, Any]) -> tuple[C, dict[str, Any]]:
    """(the validated config, the objects given in place of names) from `config` updated by `fields`."""
    objects = {k: v for k, v in fields.items() if not isinstance(v, (*_PLAIN, Path))}
    plain = {k: str(v) if isinstance(v, Path) else v for k, v in fields.items() if k not in objects}
    names = {k: str(getattr(v, "name", v)) for k, v in objects.items()}
    base = config.model_dump() if config is not None else {}
    return cls.model_validate({**base, **plain, **names}), objects
