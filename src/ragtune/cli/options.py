"""Options that come from the job configs: one source of defaults and help, and the `--config FILE` reader.

    epochs: Optional[float] = option(EmbeddingConfig, "epochs")
    ...
    cfg = config_from(EmbeddingConfig, locals(), config)

An option's default is None, so a command passes only what the user typed; `--help` shows the config's
default and help text. `config_from` layers a YAML/JSON file (`--config`, e.g. a run's own config.json)
under the options given and validates the result; a bad value is one `error: --option: ...` line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from ragtune.errors import InputError
from ragtune.runs.inputs import plain_value

__all__ = ["option", "config_option", "config_from", "flag_of"]

C = TypeVar("C", bound=BaseModel)


def flag_of(field: str, config: type[BaseModel] | None = None) -> str:
    """The long option of a config field: `learning_rate` -> `--learning-rate`, unless the field names its own
    (`Field(..., json_schema_extra={"flag": "--calls-per-chunk"})`, where the vocabulary of docs/cli-options.md
    wants another word than the Python name)."""
    info = config.model_fields.get(field) if config is not None else None
    extra = info.json_schema_extra if info is not None and isinstance(info.json_schema_extra, dict) else {}
    return str(extra.get("flag") or "--" + field.replace("_", "-"))


def _shown(default: Any) -> str | bool:
    from pydantic_core import PydanticUndefined

    if default is None or default == [] or default is PydanticUndefined:
        return False
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, list):
        return ",".join(map(str, default))
    return f"{default:g}" if isinstance(default, float) else str(default)


def option(config: type[BaseModel], field: str, *names: str, help: str | None = None, bool_flag: bool = False,
           hidden: bool = False) -> Any:
    """A typer option for `config.field`: default None (nothing passed), help and shown default from the config.
    `bool_flag` makes `--name/--no-name`; extra `names` are short forms or old spellings."""
    info = config.model_fields[field]
    long = flag_of(field, config)
    decls = [f"{long}/--no-{long[2:]}"] if bool_flag else [long]
    return typer.Option(None, *decls, *names, help=help or info.description,
                        show_default=_shown(info.get_default(call_default_factory=True)), hidden=hidden)


def config_option() -> Any:
    return typer.Option(None, "--config", help="a YAML or JSON file of this command's settings (field: value); options "
                        "given on the command line override it. A run's own config.json repeats that run exactly.")


def config_from(cls: type[C], params: dict[str, Any], config_file: Path | None = None, arguments: tuple[str, ...] = ("dataset",)
                ) -> C:
    """The config from the file (if any) overlaid with every given (non-None) option, validated. `arguments` are
    the fields the command takes as positional arguments (named in upper case in errors)."""
    base = _read_config_file(config_file, cls) if config_file else {}
    given = {k: plain_value(v) for k, v in params.items() if k in cls.model_fields and v is not None}
    try:
        return cls.model_validate({**base, **given})
    except ValidationError as e:
        raise InputError("; ".join(_problem(err, arguments, cls) for err in e.errors())) from None


def _problem(err: dict[str, Any], arguments: tuple[str, ...], cls: type[BaseModel]) -> str:
    msg = err["msg"].removeprefix("Value error, ")
    if not err["loc"]:  # a check across fields names its options itself
        return msg
    field = str(err["loc"][0])
    name = field.upper() if field in arguments else flag_of(field, cls)
    if err["type"] == "missing":
        return f"{name} is required (give it on the command line or in --config)"
    return f"{name}: {msg[0].lower() + msg[1:]} (got {err.get('input')!r})"


def _read_config_file(path: Path, cls: type[BaseModel]) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"--config {path}: file not found.")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else _yaml(text)
    except (UnicodeDecodeError, ValueError) as e:
        raise InputError(f"--config {path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'} ({e}).") from None
    if not isinstance(data, dict):
        raise InputError(f"--config {path}: expected a mapping of setting: value, got {type(data).__name__}.")
    data.pop("job", None)  # a run's config.json names its job
    unknown = sorted(set(data) - set(cls.model_fields))
    if unknown:
        raise InputError(f"--config {path}: unknown setting(s) {', '.join(unknown)}; this command takes: "
                         f"{', '.join(cls.model_fields)}.")
    return data


def _yaml(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(str(e).replace("\n", " ")) from None
