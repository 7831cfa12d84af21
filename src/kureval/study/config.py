"""``study.toml`` → frozen dataclasses (:class:`StudyConfig`).

The parser is generic: a section is filled from the type annotations of its
dataclass (``str``, ``int``, ``float``, ``bool``, ``datetime.date``,
``X | None``, ``tuple[str, ...]``, ``Mapping[str, ...]`` and nested
dataclasses).  Unknown keys, wrong types and missing required settings are
collected as :class:`~kureval.errors.Problem` records naming ``study.toml``
and the dotted key; then each section's own ``problems()`` method adds its
semantic checks, and one :class:`~kureval.errors.ConfigError` lists them all.

Every key is documented in ``docs/study-toml.md``.
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kureval.errors import ConfigError, Problem
from kureval.study.goals_config import GoalConfig
from kureval.study.reference_config import ReferenceConfig
from kureval.study.register_config import DEFAULT_WINDOWS, RegisterConfig, WindowConfig
from kureval.study.schema import TABLES

__all__ = [
    "CONFIG_FILE",
    "InstrumentConfig",
    "StudyConfig",
    "TableConfig",
    "load_config",
    "parse_config",
]

CONFIG_FILE = "study.toml"
LANGUAGES = ("en", "sv")
TABLE_EXTENSIONS = (".csv", ".xlsx", ".sav", ".parquet")
_SECTIONS = (
    "study",
    "timepoints",
    "tables",
    "instruments",
    "goals",
    "reference",
    "register",
    "windows",
)


@dataclass(frozen=True)
class TableConfig:
    """How one table is read (``[tables.<name>]``); every setting is optional.

    Attributes
    ----------
    file : str or None
        File name relative to the study folder; None = look for
        ``<name>.{csv,xlsx,sav,parquet}`` (register tables under ``register/``).
    columns : Mapping[str, str]
        Contract column name → column name in the file.
    sheet : str, int or None
        Excel sheet by name, or by position (1 = first sheet); None = first sheet.
    header_row : int or None
        Row (1-based, as numbered in the file) holding the column names; None = 1.
    delimiter : str or None
        CSV field separator; None = ``","``.
    encoding : str or None
        CSV text encoding; None = UTF-8 with automatic Windows-1252/Latin-1 fallback.
    """

    file: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    sheet: str | int | None = None
    header_row: int | None = None
    delimiter: str | None = None
    encoding: str | None = None

    def problems(self) -> list[tuple[str, object, str]]:
        """Semantic problems as (key, value, expected)."""
        out: list[tuple[str, object, str]] = []
        if self.file is not None and Path(self.file).suffix.lower() not in TABLE_EXTENSIONS:
            out.append(("file", self.file, "a file ending in " + ", ".join(TABLE_EXTENSIONS)))
        if isinstance(self.sheet, int) and self.sheet < 1:
            out.append(("sheet", self.sheet, "a sheet name or position (1 = first sheet)"))
        if self.header_row is not None and self.header_row < 1:
            out.append(("header_row", self.header_row, "a row number ≥ 1"))
        if self.delimiter is not None and len(self.delimiter) != 1:
            out.append(
                ("delimiter", self.delimiter, 'a single character such as ",", ";" or "\\t"')
            )
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                out.append(
                    ("encoding", self.encoding, "a known encoding such as 'utf-8' or 'cp1252'")
                )
        seen: dict[str, str] = {}
        for contract, in_file in self.columns.items():
            if in_file in seen:
                out.append(
                    (
                        f"columns.{contract}",
                        in_file,
                        f"a file column not already used for {seen[in_file]!r}",
                    )
                )
            seen[in_file] = contract
        return out


@dataclass(frozen=True)
class InstrumentConfig:
    """One ``[instruments.<name>]`` section: the code and its raw options.

    The options are validated by :mod:`kureval.instruments`, not here.
    """

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StudyConfig:
    """The parsed ``study.toml`` (see ``docs/study-toml.md``)."""

    name: str
    language: str
    min_cell: int
    timepoints: tuple[str, ...]
    pre: str
    post: str | None
    tables: Mapping[str, TableConfig]
    instruments: Mapping[str, InstrumentConfig]
    goals: tuple[GoalConfig, ...]
    reference: ReferenceConfig | None
    register: RegisterConfig
    windows: tuple[WindowConfig, ...]
    source: Path

    def table(self, name: str) -> TableConfig:
        """Settings for table ``name`` (defaults when ``[tables.<name>]`` is absent)."""
        return self.tables.get(name, TableConfig())


@dataclass(frozen=True)
class _StudySection:
    name: str
    language: str = "en"
    min_cell: int = 5

    def problems(self) -> list[tuple[str, object, str]]:
        out: list[tuple[str, object, str]] = []
        if not self.name.strip():
            out.append(("name", self.name, "a non-empty study name"))
        if self.language not in LANGUAGES:
            out.append(("language", self.language, "'en' or 'sv'"))
        if self.min_cell < 1:
            out.append(
                ("min_cell", self.min_cell, "a whole number ≥ 1 (smallest count shown in reports)")
            )
        return out


@dataclass(frozen=True)
class _TimepointSection:
    order: tuple[str, ...]
    pre: str | None = None
    post: str | None = None

    def problems(self) -> list[tuple[str, object, str]]:
        out: list[tuple[str, object, str]] = []
        if not self.order:
            out.append(("order", [], "at least one time point"))
        seen: set[str] = set()
        for i, tp in enumerate(self.order):
            if not tp.strip():
                out.append((f"order[{i}]", tp, "a non-empty time point name"))
            elif tp in seen:
                out.append((f"order[{i}]", tp, "each time point once (duplicate)"))
            seen.add(tp)
        for key in ("pre", "post"):
            value = getattr(self, key)
            if value is not None and value not in self.order:
                out.append(
                    (key, value, "one of the time points in order: " + ", ".join(self.order))
                )
        if (
            self.pre in self.order
            and self.post in self.order
            and self.order.index(self.pre) >= self.order.index(self.post)  # type: ignore[arg-type]
        ):
            out.append(("post", self.post, f"a time point after pre ({self.pre!r})"))
        return out


# --------------------------------------------------------------------------- generic parser

_MISSING = object()


class _Collector:
    """Collects problems with the dotted key as column."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, key: str, value: object, expected: str) -> None:
        self.problems.append(Problem(CONFIG_FILE, None, key, value, expected))


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if tp is str:
        return "text (in quotes)"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "a whole number"
    if tp is float:
        return "a number"
    if tp is dt.date:
        return "a date such as 2020-01-31"
    if tp is Any:
        return "a value"
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_describe(a) for a in typing.get_args(tp) if a is not type(None))
    if origin is tuple:
        return f"a list of {_describe(typing.get_args(tp)[0])}"
    if origin in (Mapping, dict):
        return f"a table whose values are {_describe(typing.get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "a table of settings"
    return str(tp)


def _convert(tp: Any, value: Any, key: str, out: _Collector) -> Any:
    """Convert ``value`` to type ``tp``; on failure add a problem and return _MISSING."""
    origin = typing.get_origin(tp)
    ok: Any = _MISSING
    if tp is Any:
        ok = value
    elif tp is str:
        ok = value if isinstance(value, str) else _MISSING
    elif tp is bool:
        ok = value if isinstance(value, bool) else _MISSING
    elif tp is int:
        ok = value if isinstance(value, int) and not isinstance(value, bool) else _MISSING
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            ok = float(value)
    elif tp is dt.date:
        ok = _to_date(value)
    elif origin in (types.UnionType, typing.Union):
        for arm in typing.get_args(tp):
            if arm is type(None):
                continue
            scratch = _Collector()
            ok = _convert(arm, value, key, scratch)
            if ok is not _MISSING:
                if scratch.problems:  # a nested table of the right shape but with bad settings
                    out.problems.extend(scratch.problems)
                break
    elif origin is tuple:
        return _convert_list(typing.get_args(tp)[0], value, key, out)
    elif origin in (Mapping, dict):
        return _convert_mapping(typing.get_args(tp)[1], value, key, out)
    elif dataclasses.is_dataclass(tp):
        return _build(tp, value, key, out)  # type: ignore[arg-type]
    if ok is _MISSING:
        out.add(key, value, _describe(tp))
    return ok


def _to_date(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return _MISSING
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return _MISSING
    return _MISSING


def _convert_list(item_tp: Any, value: Any, key: str, out: _Collector) -> Any:
    if not isinstance(value, list):
        out.add(key, value, f'a list of {_describe(item_tp)}, e.g. ["a", "b"]')
        return _MISSING
    n_before = len(out.problems)
    items = [_convert(item_tp, v, f"{key}[{i}]", out) for i, v in enumerate(value)]
    return _MISSING if len(out.problems) > n_before else tuple(items)


def _convert_mapping(value_tp: Any, value: Any, key: str, out: _Collector) -> Any:
    if not isinstance(value, dict):
        out.add(key, value, _describe(Mapping[str, value_tp]))
        return _MISSING
    n_before = len(out.problems)
    items = {k: _convert(value_tp, v, f"{key}.{k}", out) for k, v in value.items()}
    return _MISSING if len(out.problems) > n_before else types.MappingProxyType(items)


def _build(cls: type, data: Any, prefix: str, out: _Collector) -> Any:
    """Fill dataclass ``cls`` from TOML table ``data``; run its ``problems()``."""
    if not isinstance(data, dict):
        out.add(prefix, data, "a table of settings ([" + prefix + "])")
        return _MISSING
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    n_before = len(out.problems)
    for key, value in data.items():
        if key not in fields:
            out.add(
                f"{prefix}.{key}",
                value,
                "a known setting of [" + prefix + "]: " + ", ".join(fields),
            )
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], f"{prefix}.{name}", out)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            out.add(
                f"{prefix}.{name}",
                None,
                f"the required setting {name} in [{prefix}] ({_describe(hints[name])})",
            )
    if len(out.problems) > n_before:
        return _MISSING
    instance = cls(**kwargs)
    check = getattr(instance, "problems", None)
    if callable(check):
        for key, value, expected in check():
            out.add(f"{prefix}.{key}", value, expected)
    return _MISSING if len(out.problems) > n_before else instance


# --------------------------------------------------------------------------- sections


def _tables(data: Any, out: _Collector) -> dict[str, TableConfig]:
    if not isinstance(data, dict):
        out.add("tables", data, "a table of tables, e.g. [tables.participants]")
        return {}
    result: dict[str, TableConfig] = {}
    for name, section in data.items():
        if name not in TABLES:
            out.add(f"tables.{name}", section, "a table of the data contract: " + ", ".join(TABLES))
            continue
        cfg = _build(TableConfig, section, f"tables.{name}", out)
        if cfg is _MISSING:
            continue
        known = TABLES[name].column_names
        for contract in cfg.columns:
            if contract not in known:
                out.add(
                    f"tables.{name}.columns.{contract}",
                    contract,
                    f"a column of the {name} table: " + ", ".join(known),
                )
        result[name] = cfg
    return result


def _instruments(data: Any, out: _Collector) -> dict[str, InstrumentConfig]:
    if not isinstance(data, dict):
        out.add("instruments", data, "a table of tables, e.g. [instruments.hads]")
        return {}
    result: dict[str, InstrumentConfig] = {}
    for name, options in data.items():
        if not isinstance(options, dict):
            out.add(
                f"instruments.{name}",
                options,
                f"a table of options ([instruments.{name}], may be empty)",
            )
            continue
        result[name] = InstrumentConfig(name, types.MappingProxyType(dict(options)))
    return result


def _array(cls: type, data: Any, key: str, out: _Collector) -> tuple[Any, ...]:
    if not isinstance(data, list):
        out.add(key, data, f"an array of tables written [[{key}]]")
        return ()
    items = [_build(cls, d, f"{key}[{i}]", out) for i, d in enumerate(data)]
    return tuple(x for x in items if x is not _MISSING)


def _unique(items: tuple[Any, ...], key_of: Any, key: str, out: _Collector) -> None:
    seen: set[Any] = set()
    for i, item in enumerate(items):
        k = key_of(item)
        if k in seen:
            out.add(f"{key}[{i}].name", item.name, f"a name not already used in [[{key}]]")
        seen.add(k)


def _required(cls: type, data: Mapping[str, Any], key: str, out: _Collector, hint: str) -> Any:
    if key in data:
        return _build(cls, data[key], key, out)
    out.add(key, None, hint)
    return _MISSING


def parse_config(data: Mapping[str, Any], source: Path | str = CONFIG_FILE) -> StudyConfig:
    """Build a :class:`StudyConfig` from already-parsed TOML ``data``.

    Raises
    ------
    ConfigError
        Listing every problem (unknown key, wrong type, missing setting, …).
    """
    out = _Collector()
    for key, value in data.items():
        if key not in _SECTIONS:
            out.add(key, value, "a known section: " + ", ".join(f"[{s}]" for s in _SECTIONS))
    study = _required(_StudySection, data, "study", out, 'a [study] section with name = "..."')
    tps = _required(
        _TimepointSection,
        data,
        "timepoints",
        out,
        'a [timepoints] section with order = ["start", "end", ...]',
    )
    tables = _tables(data.get("tables", {}), out)
    instruments = _instruments(data.get("instruments", {}), out)
    goals = _array(GoalConfig, data.get("goals", []), "goals", out)
    _unique(goals, lambda g: (g.programme, g.name), "goals", out)
    reference = (
        _build(ReferenceConfig, data["reference"], "reference", out)
        if "reference" in data
        else None
    )
    register = _build(RegisterConfig, data.get("register", {}), "register", out)
    windows = (
        _array(WindowConfig, data["windows"], "windows", out)
        if "windows" in data
        else DEFAULT_WINDOWS
    )
    _unique(windows, lambda w: w.name, "windows", out)
    if out.problems:
        raise ConfigError(out.problems, title=f"{CONFIG_FILE} is not valid")
    order = tps.order
    return StudyConfig(
        name=study.name,
        language=study.language,
        min_cell=study.min_cell,
        timepoints=order,
        pre=tps.pre if tps.pre is not None else order[0],
        post=tps.post if tps.post is not None else (order[1] if len(order) > 1 else None),
        tables=types.MappingProxyType(tables),
        instruments=types.MappingProxyType(instruments),
        goals=goals,
        reference=reference,
        register=register,
        windows=windows,
        source=Path(source),
    )


def load_config(path: str | Path) -> StudyConfig:
    """Read and validate ``study.toml``.

    Parameters
    ----------
    path : str or Path
        The study folder, or the ``study.toml`` file itself.

    Returns
    -------
    StudyConfig

    Raises
    ------
    ConfigError
        When the file is missing, is not valid TOML, or breaks the settings
        contract; every problem is listed.
    """
    path = Path(path)
    file = path / CONFIG_FILE if path.is_dir() or path.suffix != ".toml" else path
    if not file.is_file():
        where = "" if file.parent.is_dir() else f" (the folder {str(file.parent)!r} does not exist)"
        raise ConfigError(
            Problem(
                str(file),
                None,
                None,
                None,
                f"a {CONFIG_FILE} file describing the study{where}; see docs/study-toml.md",
            )
        )
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(
            Problem(
                CONFIG_FILE, None, None, None, "a file saved as UTF-8 (it is in another encoding)"
            )
        ) from None
    except tomllib.TOMLDecodeError as err:
        m = re.search(r"at line (\d+)", str(err))
        raise ConfigError(
            Problem(CONFIG_FILE, int(m.group(1)) if m else None, None, None, f"valid TOML ({err})")
        ) from None
    return parse_config(data, source=file)
