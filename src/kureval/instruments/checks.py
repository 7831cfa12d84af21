"""Validation of instrument options (study.toml) and of the responses table.

:func:`response_problems` is what ``load_study`` runs (docs/internals.md): it
returns every problem — undeclared instruments, item numbers that do not belong
to the instrument, answers outside the item's range or not whole numbers, EQ-5D
levels outside 1–3 / 1–5 by version, two answers for the same person × time
point × item — plus :func:`config_problems`.  Each problem names the file, the
row as seen in the file (``_row``), the column, the value, and what was
expected, with the person, time point and item in the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kureval.errors import Problem
from kureval.instruments import eq5d, generic
from kureval.instruments._encode import Encoded, encode
from kureval.instruments.registry import (
    INSTRUMENTS,
    OPTION_KEYS,
    STANDARD_SCALES,
    instrument_options,
    instrument_scales,
    is_generic,
    item_range,
)

__all__ = ["config_problems", "response_problems"]

#: Items per scale for the max_missing bound (largest allowed = items − 1).
_ITEMS_PER_SCALE = {"hads": 7, "who5": 5, "swemwbs": 7, "wemwbs": 14, "ucla3": 3, "k6": 6}


def _config_file(config: Any) -> str:
    if hasattr(config, "config") and hasattr(config, "responses"):
        config = config.config
    source = getattr(config, "source", None)
    return Path(source).name if source else "study.toml"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def config_problems(config: Any) -> list[Problem]:
    """Every problem with the ``[instruments.*]`` tables.

    ``config`` is a StudyConfig, a Study, or a mapping ``{code: options}``.
    Column of each problem = dotted study.toml key, e.g.
    ``instruments.eq5d.value_set``.
    """
    file = _config_file(config)
    out: list[Problem] = []
    options = instrument_options(config)
    wem = options.get("wemwbs")
    if "swemwbs" in options and isinstance(wem, Mapping) and wem.get("derive_swemwbs") is True:
        out.append(
            Problem(
                file,
                None,
                "instruments.wemwbs.derive_swemwbs",
                True,
                "false while [instruments.swemwbs] is also declared (both would give "
                "the scale swemwbs for the same person and time point)",
            )
        )
    for code, opts in options.items():
        key = f"instruments.{code}"
        if not isinstance(opts, Mapping):
            out.append(Problem(file, None, key, opts, "a table of instrument options"))
        elif is_generic(opts):
            if code in INSTRUMENTS or code in STANDARD_SCALES:
                out.append(
                    Problem(
                        file,
                        None,
                        key + ".type",
                        "generic",
                        f"a generic scale name that is not a standard instrument or scale name ({code!r})",
                    )
                )
            out.extend(generic.option_problems(code, opts, file))
        elif code not in INSTRUMENTS:
            out.append(
                Problem(
                    file,
                    None,
                    key,
                    code,
                    "a known instrument ("
                    + ", ".join(INSTRUMENTS)
                    + ') or a generic scale declared with type = "generic", items, min, max, '
                    "higher_is_better",
                )
            )
        else:
            out.extend(_standard_problems(code, opts, file))
    return out


def _standard_problems(code: str, opts: Mapping[str, Any], file: str) -> list[Problem]:
    key = f"instruments.{code}."
    out = [
        Problem(file, None, key + k, v, f"an option of {code}: " + ", ".join(OPTION_KEYS[code]))
        for k, v in opts.items()
        if k not in OPTION_KEYS[code]
    ]
    scales = (
        instrument_scales(code, opts)
        if isinstance(opts.get("derive_swemwbs", False), bool)
        else INSTRUMENTS[code].scales
    )
    for opt, ok, what in (
        ("mcid", lambda x: _is_num(x) and x > 0, "a positive number (score units)"),
        ("reliability", lambda x: _is_num(x) and 0 < x < 1, "a number between 0 and 1"),
    ):
        if opt not in opts:
            continue
        table = opts[opt]
        if not isinstance(table, Mapping):
            out.append(
                Problem(
                    file,
                    None,
                    key + opt,
                    table,
                    f"a table scale = value, e.g. {{ {scales[0]} = ... }}",
                )
            )
            continue
        for scale, v in table.items():
            if scale not in scales:
                out.append(
                    Problem(
                        file,
                        None,
                        f"{key}{opt}.{scale}",
                        scale,
                        "a scale of this instrument: " + ", ".join(scales),
                    )
                )
            elif not ok(v):
                out.append(Problem(file, None, f"{key}{opt}.{scale}", v, what))
    if "max_missing" in opts:
        k = _ITEMS_PER_SCALE[code]
        v = opts["max_missing"]
        if not (_is_int(v) and 0 <= v < k):
            out.append(
                Problem(file, None, key + "max_missing", v, f"a whole number from 0 to {k - 1}")
            )
    if "case_threshold" in opts:
        info = STANDARD_SCALES[INSTRUMENTS[code].scales[0]]
        v = opts["case_threshold"]
        if not (_is_int(v) and info.min <= v <= info.max):
            out.append(
                Problem(
                    file,
                    None,
                    key + "case_threshold",
                    v,
                    f"a whole number from {info.min:g} to {info.max:g}",
                )
            )
    if "derive_swemwbs" in opts and not isinstance(opts["derive_swemwbs"], bool):
        out.append(
            Problem(file, None, key + "derive_swemwbs", opts["derive_swemwbs"], "true or false")
        )
    if code == "eq5d":
        out.extend(_eq5d_problems(opts, file))
    return out


def _eq5d_problems(opts: Mapping[str, Any], file: str) -> list[Problem]:
    if "value_set" not in opts:
        return [
            Problem(
                file,
                None,
                "instruments.eq5d.value_set",
                None,
                "value_set to be named (there is no default); available: "
                + ", ".join(eq5d.VALUE_SETS),
            )
        ]
    return [
        Problem(file, None, f"instruments.eq5d.{p.column}", p.value, p.expected)
        for p in eq5d.check_value_set(opts["value_set"], opts.get("version"))
    ]


def _usable(code: str, opts: Mapping[str, Any]) -> bool:
    """Whether item ranges are known (standard instrument, or a valid generic declaration)."""
    if is_generic(opts):
        return not generic.option_problems(code, opts)
    return code in INSTRUMENTS


def response_problems(
    study: Any, enc: Encoded | None = None, *, table_checks: bool = False
) -> list[Problem]:
    """Every problem with ``study.responses`` (see module docstring), config problems first.

    ``enc`` is the table already encoded by :func:`~kureval.instruments._encode.encode`
    (score_study passes it so that a million rows are not encoded twice).
    ``table_checks=True`` adds the two checks that ``load_study``'s table
    validation already makes (undeclared instruments; two answers for the same
    person × time point × instrument × item), so that they are not reported
    twice at load time; :func:`~kureval.instruments.score.score_study` turns
    them on, since it may be given a study that was not loaded from files.
    """
    out = config_problems(study)
    r = study.responses
    files = getattr(study, "files", None) or {}
    file = Path(files["responses"]).name if "responses" in files else "responses"
    if r is None or len(r) == 0:
        return out
    enc = enc if enc is not None else encode(study)
    options = instrument_options(study)
    if table_checks:
        out.extend(_undeclared_problems(r, enc, options, file))
    for code, opts in options.items():
        mask = enc.instrument_mask(code)
        if mask.any() and isinstance(opts, Mapping) and _usable(code, opts):
            out.extend(_item_value_problems(r, enc, np.flatnonzero(mask), code, opts, file))
    if table_checks:
        out.extend(_duplicate_problems(r, enc, file))
    return out


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _undeclared_problems(
    r: pd.DataFrame, enc: Encoded, options: Mapping[str, Any], file: str
) -> list[Problem]:
    undeclared = enc.inst < 0
    for k, name in enumerate(enc.instruments):
        if name not in options:
            undeclared |= enc.inst == k
    if not undeclared.any():
        return []
    raw_instrument = r["instrument"].to_numpy()
    expected = (
        ("an instrument declared in study.toml [instruments.*]: " + ", ".join(options))
        if options
        else "an instrument declared in study.toml (no [instruments.*] tables found)"
    )
    return [
        Problem(file, int(enc.rows[i]), "instrument", _py(raw_instrument[i]), expected)
        for i in np.flatnonzero(undeclared)
    ]


def _who(p: Any, tp: Any, item: Any) -> str:
    return f"person {p}, time point {tp}, item {item}"


def _item_value_problems(
    r: pd.DataFrame, enc: Encoded, idx: np.ndarray, code: str, opts: Mapping[str, Any], file: str
) -> list[Problem]:
    n_items, lo, hi, integer = item_range(code, opts)
    item, value = enc.item[idx], enc.value[idx]
    bad_item = np.isnan(item) | (item < 1) | (item > n_items) | (item != np.floor(item))
    bad_value = ~bad_item & (
        enc.value_text[idx] | (~np.isnan(value) & ((value < lo) | (value > hi)))
    )
    if integer:
        bad_value |= ~bad_item & ~np.isnan(value) & (value != np.floor(value))
    if not (bad_item.any() or bad_value.any()):
        return []
    out = []
    col = {c: r[c].to_numpy() for c in ("person_id", "timepoint", "item", "value")}
    for i in idx[bad_item]:
        who = _who(col["person_id"][i], col["timepoint"][i], col["item"][i])
        out.append(
            Problem(
                file,
                int(enc.rows[i]),
                "item",
                _py(col["item"][i]),
                f"an item number of {code} from 1 to {n_items} ({who})",
            )
        )
    kind = "an integer" if integer else "a number"
    what = f"{kind} from {lo:g} to {hi:g}"
    if code == "eq5d":
        what = f"an EQ-5D-{int(hi)}L level: " + ", ".join(str(k) for k in range(1, int(hi) + 1))
    elif integer and hi - lo <= 10:
        what += " (allowed: " + ", ".join(f"{k:g}" for k in np.arange(lo, hi + 1)) + ")"
    for i in idx[bad_value]:
        who = _who(col["person_id"][i], col["timepoint"][i], col["item"][i])
        out.append(
            Problem(
                file,
                int(enc.rows[i]),
                "value",
                _py(col["value"][i]),
                f"{what} for {code} ({who}); empty = missing",
            )
        )
    return out


def _duplicate_problems(r: pd.DataFrame, enc: Encoded, file: str) -> list[Problem]:
    ok = (
        (enc.person >= 0)
        & (enc.tp >= 0)
        & (enc.inst >= 0)
        & ~np.isnan(enc.item)
        & (enc.item >= 0)
        & (enc.item < 1e6)
        & (enc.item == np.floor(enc.item))
    )
    idx = np.flatnonzero(ok)
    item = enc.item[idx].astype(np.int64)
    key = (
        (enc.person[idx] * (len(enc.timepoints) + 1) + enc.tp[idx]) * (len(enc.instruments) + 1)
        + enc.inst[idx]
    ) * (int(item.max(initial=0)) + 1) + item
    order = np.argsort(key, kind="stable")
    k = key[order]
    same_prev = np.r_[False, k[1:] == k[:-1]]
    if not same_prev.any():
        return []
    dup = same_prev | np.r_[k[:-1] == k[1:], False]
    group_start = np.maximum.accumulate(np.where(~same_prev, np.arange(len(k)), 0))
    col = {c: r[c].to_numpy() for c in ("person_id", "timepoint", "instrument", "item")}
    out = []
    for j in np.flatnonzero(dup):
        i, first = idx[order[j]], idx[order[group_start[j]]]
        row, first_row = int(enc.rows[i]), int(enc.rows[first])
        other = (
            f"also answered on row {first_row}"
            if row != first_row
            else "answered again on a later row"
        )
        who = _who(col["person_id"][i], col["timepoint"][i], col["item"][i])
        out.append(
            Problem(
                file,
                row,
                "item",
                _py(col["item"][i]),
                f"one answer per person × time point × item ({col['instrument'][i]}, {who}; {other})",
            )
        )
    return out
