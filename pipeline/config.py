"""YAML configuration, validated against dataclasses so a typo is an error naming the key.

Each stage declares its options as a small dataclass (`Stage.Config`); the pipeline's own
options are `PipelineConfig`. `load_config` reads a YAML file and checks every key and type.
"""
from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml


class ConfigError(ValueError):
    """A configuration problem, with the file and key at fault in the message."""


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 floats: PyYAML follows YAML 1.1, where `1e-3` and `989.0e12`
    (no dot or no exponent sign) are strings, so `lr: 1e-3` would silently be text."""


_Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def yaml_load(text: str) -> Any:
    """Every config file and `--set` value goes through here (YAML 1.2 numbers)."""
    return yaml.load(text, Loader=_Loader)


def read_yaml(path: str | Path) -> Any:
    """A YAML config file; a missing file or bad YAML is a ConfigError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        return yaml_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against the annotation `tp`, converting only lossless cases (int -> float)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value in args:
            return value
        raise ConfigError(f"{where}: expected one of {list(args)}, got {value!r}")
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {
            _coerce(k, args[0], f"{where} key"): _coerce(v, args[1], f"{where}.{k}")
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(tp, value, where)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):  # a quoted number, "1e-3": what Python's float() reads
            try:
                number = float(value)
            except ValueError:
                pass
        if number is not None and number == number:  # NaN is no setting
            return number
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is str:
        if isinstance(value, str):
            return value
    else:
        raise TypeError(f"{where}: unsupported annotation {tp!r}")
    raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r} ({type(value).__name__})")


def from_dict(cls: type, data: dict, where: str) -> Any:
    """Build dataclass `cls` from `data`; unknown keys and wrong types raise ConfigError."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(known)) or 'none'})"
        )
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from None


def to_dict(obj: Any) -> Any:
    """A dataclass config as plain data (for hashing and for the manifest)."""
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


@dataclass
class InputSpec:
    path: str
    # Overrides the record's own `source` field; default: the record's, else the file's path.
    source: str | None = None


@dataclass
class StageEntry:
    """One entry of `stages:`: the stage's registered name and its validated options."""

    name: str
    config: Any


@dataclass
class PipelineConfig:
    input: list[InputSpec] = field(default_factory=list)
    output: str = "out/default"
    # Seed for every random choice a stage makes (sampling, hashing salts).
    seed: int = 1234
    # Ray actors per stage; null = as many as the cluster has CPUs for the stage's resources.
    workers: int | None = None
    # "ray": local Ray, or the cluster in RAY_ADDRESS. "inline": one process, no Ray (debugging).
    # "auto": inline for a stage whose input is under AUTO_INLINE_BYTES when RAY_ADDRESS is unset
    # (Ray's start-up and the stage's actors would cost more than the work), else Ray.
    executor: Literal["auto", "ray", "inline"] = "auto"
    # Rows per Arrow batch handed to a stage; Parquet row groups are this size too.
    batch_size: int = 1024
    # Retention, for corpora where every stage's full output does not fit on disk:
    # "drop": rejected rows keep id, reason, scores and metadata but not text, except the first
    # few per reason in each unit (samples for the report).
    rejected_text: Literal["keep", "drop"] = "keep"
    # "last": a stage's kept parts are deleted once the next stage, their only reader, has
    # committed (its rejected parts, stats and _SUCCESS stay); a later run that needs them redoes
    # the stage, same bytes. Only the last stage's output is kept.
    keep_stage_outputs: Literal["all", "last"] = "all"
    stages: list[StageEntry] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"workers: must be >= 1 or null, got {self.workers}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size: must be >= 1, got {self.batch_size}")


def parse_stage_entry(entry: Any, where: str) -> StageEntry:
    from pipeline.stage import stage_class  # the registry needs the stage modules imported

    if not isinstance(entry, dict) or "name" not in entry:
        raise ConfigError(f"{where}: expected a mapping with a 'name' key, got {entry!r}")
    options = dict(entry)
    name = options.pop("name")
    cls = stage_class(name, where)
    return StageEntry(name=name, config=from_dict(cls.Config, options, f"{where} ({name})"))


def parse_config(raw: Any, where: str) -> PipelineConfig:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: the top level must be a mapping")
    raw = dict(raw)
    stages_raw = raw.pop("stages", [])
    inputs_raw = raw.pop("input", [])
    if not isinstance(stages_raw, list):
        raise ConfigError(f"{where}: stages: expected a list")
    if isinstance(inputs_raw, str):
        inputs_raw = [inputs_raw]
    if not isinstance(inputs_raw, list):
        raise ConfigError(f"{where}: input: expected a list of paths")
    inputs = [
        InputSpec(path=i) if isinstance(i, str) else from_dict(InputSpec, i, f"{where}: input[{n}]")
        for n, i in enumerate(inputs_raw)
    ]
    cfg = from_dict(PipelineConfig, raw, where)
    cfg.input = inputs
    cfg.stages = [parse_stage_entry(s, f"{where}: stages[{i}]") for i, s in enumerate(stages_raw)]
    names = [s.name for s in cfg.stages]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{where}: stage {name!r} appears more than once")
    return cfg


def load_config(path: str | Path) -> PipelineConfig:
    return parse_config(read_yaml(path), str(path))


def parse_override(text: str) -> tuple[str, Any]:
    """`key=value` from the command line; the value is read as YAML (`3`, `0.5`, `[en, de]`)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value")
    key, value = text.split("=", 1)
    try:
        return key.strip(), yaml_load(value)
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {text!r}: invalid value: {e}") from None
