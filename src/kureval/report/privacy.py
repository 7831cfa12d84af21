"""Statistical disclosure control for published tables, and identifier detection.

Two tools keep person-level information out of a report:

* :func:`suppress_counts` turns a table of counts into a *display* table in
  which small counts are hidden (primary suppression), percentages derived
  from hidden counts are blanked, and further cells are hidden where needed so
  that no hidden count can be worked out from the totals that stay visible
  (secondary, or complementary, suppression).
* :func:`looks_like_personnummer` and :func:`find_identifiers` find Swedish
  personal identity numbers and the study's own person ids in text; the
  report build runs them over everything it writes.

Conventions (choose them consciously; they are printed in the report's notes)

* A count ``n`` with ``0 < n < min_cell`` is shown as ``"<5"`` (for
  ``min_cell = 5``).  **Zero is shown as 0 by default**, as Statistics Sweden
  and Socialstyrelsen usually publish it: a structural or observed zero
  reveals no person.  Pass ``show_zero=False`` to hide zeros as well (then
  they are shown as ``"<5"`` too, so that 0 and 1–4 cannot be told apart).
* A cell hidden only to protect another cell (secondary suppression) is shown
  as ``".."``, the Nordic statistical agencies' mark for "not published"; it
  may hold any value, so it is not labelled ``"<5"``.
* Secondary cells are chosen greedily: in every row or column equation
  (total = sum of its parts) that would otherwise have exactly one hidden
  cell, the smallest visible non-zero part is hidden (the total itself only
  when no part qualifies).  Afterwards the whole system of equations is
  checked with linear algebra: a hidden cell that is still uniquely determined
  by the visible cells (e.g. through a combination of rows and columns) makes
  the algorithm hide one more cell next to it, until none is.  Bounds (a
  ``"<5"`` cell is known to lie in 1–4) are not exploited by this check; the
  greedy rule never chooses zeros, which keeps such interval attacks weak.

References
----------
Hundepool A, Domingo-Ferrer J, Franconi L, et al. *Statistical Disclosure
Control.* Wiley; 2012. Chapter 5 (magnitude and frequency tables, secondary
suppression).  Statistics Sweden. *Statistical disclosure control of tables*
(handbook, 2015).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kureval.errors import ConfigError, Problem

__all__ = [
    "ID_COLUMNS",
    "SECONDARY_MARK",
    "find_identifiers",
    "looks_like_personnummer",
    "mask",
    "personnummer_candidates",
    "scan_output",
    "scannable_ids",
    "suppress_counts",
]

SECONDARY_MARK = ".."

Cell = tuple[int, int]  # (row position, column position) in the count grid


def suppress_counts(
    table: pd.DataFrame,
    count_cols: Sequence[str],
    *,
    min_cell: int = 5,
    pct_cols: Mapping[str, str | tuple[str, str]] | None = None,
    total_cols: str | Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    total_rows: Hashable | Sequence[Hashable] | Mapping[Any, Sequence[Any]] | None = None,
    show_zero: bool = True,
) -> pd.DataFrame:
    """Display table with small counts hidden, and secondary suppression.

    Parameters
    ----------
    table : DataFrame
        Counts (non-negative integers; missing values allowed and shown as
        empty) plus any other columns, which are passed through untouched.
        The index must be unique.  Never modified.
    count_cols : sequence of str
        Columns holding counts that are published (the table's interior).
    min_cell : int, default 5
        Smallest count that may be shown; ``1 … min_cell − 1`` are shown as
        ``"<{min_cell}"``.
    pct_cols : mapping, optional
        Percentage (or share) column → the count column it is derived from,
        or → ``(numerator column, denominator column)``.  The percentage is
        blanked (``""``) when any column it derives from is hidden in that row,
        since ``n`` and ``n/N`` together reveal ``N``.
    total_cols : str, sequence or mapping, optional
        Columns holding row totals.  A name (or list of names) means the total
        of all ``count_cols``; a mapping gives, for each total column, the
        count columns it sums.  Totals are protected like any cell and are
        used for secondary suppression.
    total_rows : label, sequence or mapping, optional
        Index labels of rows that are column totals (sum of all other
        non-total rows), or a mapping total-row label → labels of the rows it
        sums, or → a list of such lists when the same total is the sum of
        several blocks (e.g. the group sizes in a baseline table, once per
        characteristic); every decomposition is protected.
    show_zero : bool, default True
        Show zero counts as 0 (see module notes); ``False`` hides them too.

    Returns
    -------
    DataFrame
        Same index and columns, ``object`` dtype: visible counts as ``int``,
        primary-suppressed counts as ``"<5"``, secondary-suppressed counts as
        ``".."``, blanked percentages as ``""``; other columns unchanged.

    Raises
    ------
    ConfigError
        Unknown columns or rows, counts that are negative or not whole
        numbers, totals that do not equal the sum of their parts.

    Examples
    --------
    >>> t = pd.DataFrame({"F": [3, 20, 23], "M": [10, 12, 22], "Total": [13, 32, 45]},
    ...                  index=["a", "b", "Total"])
    >>> suppress_counts(t, ["F", "M"], total_cols="Total", total_rows="Total")
            F   M Total
    a      <5  ..    13
    b      ..  ..    32
    Total  23  22    45
    """
    count_cols = list(count_cols)
    tcols = _norm_totals(total_cols, count_cols)
    trows = _norm_row_totals(total_rows, table)
    pct = dict(pct_cols or {})
    _validate(table, count_cols, tcols, trows, pct, min_cell)
    cols = count_cols + [c for c in tcols if c not in count_cols]
    values = table[cols].to_numpy(dtype="float64", na_value=np.nan)
    equations = _equations(table, cols, tcols, trows)
    _check_consistent(values, equations, table, cols)

    primary = _primary(values, min_cell, show_zero)
    hidden = _secondary(values, primary.copy(), equations)

    out = table.copy().astype(object)
    small = f"<{min_cell}"
    for j, col in enumerate(cols):
        shown: list[object] = []
        for i in range(len(table)):
            v = values[i, j]
            if primary[i, j]:
                shown.append(small)
            elif hidden[i, j]:
                shown.append(SECONDARY_MARK)
            else:
                shown.append("" if np.isnan(v) else int(v))
        out[col] = pd.Series(shown, index=table.index, dtype=object)
    pos = {c: j for j, c in enumerate(cols)}
    for pcol, src in pct.items():
        srcs = (src,) if isinstance(src, str) else tuple(src)
        blank = np.zeros(len(table), dtype=bool)
        for s in srcs:
            if s in pos:
                blank |= hidden[:, pos[s]]
        col_values = out[pcol].to_numpy(dtype=object).copy()
        col_values[blank] = ""
        out[pcol] = pd.Series(col_values, index=table.index, dtype=object)
    return out


# --------------------------------------------------------------------------- validation


def _norm_totals(total_cols, count_cols: list[str]) -> dict[str, list[str]]:
    if total_cols is None:
        return {}
    if isinstance(total_cols, str):
        return {total_cols: list(count_cols)}
    if isinstance(total_cols, Mapping):
        return {str(k): list(v) for k, v in total_cols.items()}
    return {str(c): list(count_cols) for c in total_cols}


def _norm_row_totals(total_rows, table: pd.DataFrame) -> dict[Hashable, list[list[Hashable]]]:
    """Total-row label → list of decompositions (each a list of the row labels it sums)."""
    if total_rows is None:
        return {}
    if isinstance(total_rows, Mapping):
        out: dict[Hashable, list[list[Hashable]]] = {}
        for k, v in total_rows.items():
            v = list(v)
            nested = bool(v) and all(isinstance(x, list | tuple) for x in v)
            out[k] = [list(x) for x in v] if nested else [v]
        return out
    labels = [total_rows] if not isinstance(total_rows, list | tuple) else list(total_rows)
    rest = [r for r in table.index if r not in labels]
    return {lab: [rest] for lab in labels}


def _validate(table, count_cols, tcols, trows, pct, min_cell) -> None:
    problems: list[Problem] = []

    def bad(column, value, expected):
        problems.append(Problem("table", None, column, value, expected))

    if not isinstance(min_cell, int | np.integer) or isinstance(min_cell, bool) or min_cell < 1:
        bad("min_cell", min_cell, "a whole number ≥ 1")
    if not table.index.is_unique:
        bad(None, "index", "a unique index (row labels)")
    needed = set(count_cols) | set(tcols) | {c for v in tcols.values() for c in v} | set(pct)
    for src in pct.values():
        needed |= {src} if isinstance(src, str) else set(src)
    for col in sorted(needed - set(table.columns), key=str):
        bad(col, None, "a column of the table")
    for lab in list(trows) + [r for v in trows.values() for part in v for r in part]:
        if lab not in table.index:
            bad(None, lab, "a row label of the table")
    for col in [c for c in list(count_cols) + list(tcols) if c in table.columns]:
        num = pd.to_numeric(table[col], errors="coerce")
        wrong = table[col].notna() & (num.isna() | (num < 0) | (num % 1 != 0))
        for lab in table.index[wrong.to_numpy()]:
            bad(col, table.at[lab, col], f"a non-negative whole-number count (row {lab!r})")
    if problems:
        raise ConfigError(problems, title="cannot suppress small counts")


def _equations(table, cols, tcols, trows) -> list[list[tuple[Cell, float]]]:
    """Each equation as (cell, coefficient) pairs summing to zero: total − Σ parts = 0."""
    cpos = {c: j for j, c in enumerate(cols)}
    rpos = {lab: i for i, lab in enumerate(table.index)}
    eqs = []
    for i in range(len(table)):
        for tot, parts in tcols.items():
            eqs.append([((i, cpos[tot]), 1.0)] + [((i, cpos[p]), -1.0) for p in parts])
    for tot, decompositions in trows.items():
        for parts in decompositions:
            for j in range(len(cols)):
                eqs.append([((rpos[tot], j), 1.0)] + [((rpos[p], j), -1.0) for p in parts])
    return eqs


def _check_consistent(values, equations, table, cols) -> None:
    problems = []
    for eq in equations:
        vals = [values[c] * w for c, w in eq]
        if any(np.isnan(v) for v in vals):
            continue
        if abs(sum(vals)) > 1e-9:
            (i, j), _ = eq[0]
            problems.append(
                Problem(
                    "table",
                    None,
                    cols[j],
                    values[i, j],
                    f"the sum of its parts (row {table.index[i]!r})",
                )
            )
    if problems:
        raise ConfigError(problems, title="totals do not add up")


# --------------------------------------------------------------------------- suppression


def _primary(values: np.ndarray, min_cell: int, show_zero: bool) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        small = (values > 0) & (values < min_cell)
        if not show_zero:
            small |= values == 0
    return small


def _secondary(values: np.ndarray, hidden: np.ndarray, equations) -> np.ndarray:
    """Hide further cells until no hidden cell can be recovered from visible ones."""
    if not equations or not hidden.any():
        return hidden
    for _ in range(hidden.size + 1):
        changed = _one_unknown_pass(values, hidden, equations)
        if not changed:
            cell = _first_determined(values, hidden, equations)
            if cell is None:
                return hidden
            extra = _candidate(
                values, hidden, [eq for eq in equations if any(c == cell for c, _ in eq)]
            )
            if extra is None:
                return hidden
            hidden[extra] = True
    return hidden


def _one_unknown_pass(values, hidden, equations) -> bool:
    changed = False
    for eq in equations:
        if sum(bool(hidden[c]) for c, _ in eq) == 1:
            extra = _candidate(values, hidden, [eq])
            if extra is not None:
                hidden[extra] = True
                changed = True
    return changed


def _candidate(values, hidden, equations) -> Cell | None:
    """Smallest visible non-zero part of the equations (their totals only as last resort)."""
    parts: list[tuple[float, Cell]] = []
    totals: list[tuple[float, Cell]] = []
    for eq in equations:
        for k, (cell, _) in enumerate(eq):
            v = values[cell]
            if hidden[cell] or np.isnan(v) or v == 0:
                continue
            (totals if k == 0 else parts).append((v, cell))
    pool = parts or totals
    return min(pool)[1] if pool else None


def _first_determined(values, hidden, equations) -> Cell | None:
    """A hidden cell whose value follows from the equations and the visible cells, if any."""
    unknowns = [tuple(c) for c in np.argwhere(hidden)]
    index = {c: k for k, c in enumerate(unknowns)}
    rows = []
    for eq in equations:
        if any(np.isnan(values[c]) and not hidden[c] for c, _ in eq):
            continue  # a missing visible value: the equation gives no information
        row = np.zeros(len(unknowns))
        for c, w in eq:
            if hidden[c]:
                row[index[c]] += w
        if row.any():
            rows.append(row)
    if not rows:
        return None
    a = np.vstack(rows)
    rank = np.linalg.matrix_rank(a)
    for c, k in index.items():
        e = np.zeros(len(unknowns))
        e[k] = 1.0
        if np.linalg.matrix_rank(np.vstack([a, e])) == rank:
            return c  # e_k lies in the row space: the cell is determined
    return None


# --------------------------------------------------------------------------- identifiers

_PNR = re.compile(r"(?<![0-9A-Za-z])(?<![0-9]\.)((?:19|20)?\d{6})([-+]?)(\d{4})(?![0-9A-Za-z])")


def _luhn_ok(ten_digits: str) -> bool:
    total = 0
    for k, ch in enumerate(ten_digits):
        d = int(ch) * (2 if k % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _date_ok(ymd: str) -> bool:
    """YYMMDD or YYYYMMDD with a real month and day (day + 60 = coordination number)."""
    y = int(ymd[:-4]) if len(ymd) == 8 else 2000
    m, d = int(ymd[-4:-2]), int(ymd[-2:])
    if d > 60:
        d -= 60
    try:
        date(y if len(ymd) == 8 else 2000, m, d)
    except ValueError:
        return False
    return True


def looks_like_personnummer(text: str) -> bool:
    """Whether ``text`` as a whole is a plausible Swedish personal identity number.

    Accepts ``YYYYMMDD-NNNN``, ``YYMMDD-NNNN``, with ``-``, ``+`` or no
    separator, and coordination numbers (day + 60).  The date must exist and
    the last digit must be the Luhn check digit, as in every real
    personnummer (Skatteverket, SKV 704).

    >>> looks_like_personnummer("19121212-1212"), looks_like_personnummer("121212-1213")
    (True, False)
    """
    m = _PNR.fullmatch(text.strip())
    return m is not None and _check(m)


def _check(m: re.Match[str]) -> bool:
    ymd, _, tail = m.groups()
    return _date_ok(ymd) and _luhn_ok(ymd[-6:] + tail)


def personnummer_candidates(text: str) -> list[str]:
    """Every substring of ``text`` that looks like a personnummer (see :func:`looks_like_personnummer`)."""
    return [m.group(0) for m in _PNR.finditer(text) if _check(m)]


_TOKEN = re.compile(r"[0-9A-Za-zÅÄÖåäöÉéÜü]+(?:[-_.][0-9A-Za-zÅÄÖåäöÉéÜü]+)*")


def find_identifiers(text: str, ids: Collection[str]) -> list[str]:
    """The study person ids that occur in ``text`` as whole tokens.

    A token is a run of letters and digits, possibly joined by ``-``, ``_``
    or ``.`` (so ``P-00123`` is one token); every token, and each of its
    parts between ``_`` or ``.`` (so ``K0042.png`` and ``x_K0042`` are
    found), is looked up in ``ids``.  Parts between hyphens are not, since
    hyphenated codes such as the ISSN ``S0022-3999`` in a DOI would
    otherwise match ids like ``S0022``.  Matching is exact and
    case-sensitive, as ids are.  Returns the distinct ids found, in order
    of first occurrence.
    """
    found: dict[str, None] = {}
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        if tok in ids:
            found.setdefault(tok, None)
        for part in re.split(r"[_.]", tok):
            if part != tok and part in ids:
                found.setdefault(part, None)
    return list(found)


def scannable_ids(ids: Iterable[str], min_length: int = 6) -> tuple[set[str], int]:
    """Ids distinctive enough to search for in text, and how many were not.

    Purely numeric ids shorter than ``min_length`` digits (e.g. running
    numbers ``1 … 30000``) cannot be told apart from the counts a report
    legitimately shows, so a text scan cannot check them; the row-level
    checks of the report build still apply to them.
    """
    good, skipped = set(), 0
    for raw in ids:
        s = str(raw).strip()
        if not s or (s.isdigit() and len(s) < min_length) or len(s) < 3:
            skipped += 1
        else:
            good.add(s)
    return good, skipped


def mask(identifier: str) -> str:
    """``identifier`` with all but its first two and last character hidden, for error messages."""
    s = str(identifier)
    if len(s) <= 3:
        return "*" * len(s)
    return s[:2] + "*" * (len(s) - 3) + s[-1]


# --------------------------------------------------------------------------- output scan

_DATA_URI = re.compile(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=\s]+")
_DOI = re.compile(r"\b10\.\d{4,9}/[^\s\"'<>]+")  # DOIs in citations: never a person id
_TEXT_SUFFIXES = {
    ".html",
    ".htm",
    ".csv",
    ".svg",
    ".txt",
    ".json",
    ".md",
    ".ipynb",
    ".tex",
    ".tsv",
    ".xml",
}
ID_COLUMNS = {"person_id", "personid", "lopnr", "löpnr", "id", "pnr", "personnummer", "ssn"}


def scan_output(folder: str | Path, ids: Collection[str], max_rows: int = 100) -> list[str]:
    """Every identifier or row-level record found in the files under ``folder``.

    Checks each file name and each text file (HTML, CSV, SVG, JSON, …;
    embedded base64 images are skipped, as their pixels cannot be read as
    text) for (a) a study person id as a whole token (ids too short to tell
    from ordinary numbers are skipped, see :func:`scannable_ids`; DOIs are
    skipped), (b) a plausible Swedish
    personnummer, and (c) row-level records: a CSV with a person-id column,
    or a CSV or HTML table with ``max_rows`` rows or more.  Returns readable
    findings with identifiers masked; empty when the output is clean.
    """
    good, _ = scannable_ids(ids)
    findings = []
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file() or path.suffix.lower() not in _TEXT_SUFFIXES:
            continue
        rel = path.relative_to(folder).as_posix()
        text = _DATA_URI.sub("data:image/…", path.read_text("utf-8", errors="replace"))
        found = find_identifiers(rel + "\n" + _DOI.sub("doi", text), good)
        if found:
            shown = ", ".join(mask(i) for i in found[:5])
            findings.append(f"{rel}: {len(found)} person id(s) of the study ({shown})")
        pnr = personnummer_candidates(text)
        if pnr:
            shown = ", ".join(mask(p) for p in pnr[:5])
            findings.append(f"{rel}: {len(pnr)} personnummer-like number(s) ({shown})")
        findings.extend(f"{rel}: {msg}" for msg in _row_level(path, text, max_rows))
    return findings


def _row_level(path: Path, text: str, max_rows: int) -> list[str]:
    out: list[str] = []
    if path.suffix.lower() == ".csv":
        try:
            df = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
        except Exception:  # not a table pandas can read: the text checks still ran
            return out
        cols = [c for c in df.columns if str(c).strip().lower() in ID_COLUMNS]
        if cols:
            out.append(f"a person-id column ({', '.join(map(str, cols))})")
        if len(df) >= max_rows:
            out.append(
                f"{len(df)} rows (row-level data? tables with ≥ {max_rows} rows are refused)"
            )
    elif path.suffix.lower() in {".html", ".htm"}:
        for k, body in enumerate(re.findall(r"<table\b.*?</table>", text, flags=re.S | re.I), 1):
            n = len(re.findall(r"<tr\b", body, flags=re.I))
            if n - 1 >= max_rows:
                out.append(
                    f"HTML table {k} has {n - 1} rows (row-level data? ≥ {max_rows} refused)"
                )
    return out
