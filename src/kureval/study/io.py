"""Study folder → :class:`~kureval.study.model.Study` (CSV, Excel, SPSS, Parquet).

:func:`read_table` reads one table and types it; :func:`load_study` reads the
whole folder, runs every check of :mod:`kureval.study.schema` (and any extra
checks, e.g. instrument item ranges) and raises **one**
:class:`~kureval.errors.DataError` listing every problem.  No row is removed
while loading: a bad row is an error, not a silent exclusion.

Row numbers (``_row``) are as a person sees them in the file: CSV line number
(header = line 1), Excel sheet row, SPSS/Parquet record number + 1.

``load_study(path, persons=ids)`` reads the register tables only for the
persons ``ids`` (the matched sets of a large register): Parquet files are
filtered while they are read (pyarrow, batch by batch, keeping each row's
record number), other formats are read whole and then filtered; the rows
kept are typed and checked exactly as in a full load.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kureval.errors import ConfigError, DataError, Problem
from kureval.study.config import TABLE_EXTENSIONS, StudyConfig, TableConfig, load_config
from kureval.study.model import Study
from kureval.study.rules import check_study
from kureval.study.schema import (
    ABSENT,
    TABLES,
    _as_text,
    _text_value,
    coerce_table,
    declared_order,
    isin,
)

__all__ = [
    "PERSONS_REASON",
    "find_table_file",
    "is_person_filtered",
    "load_study",
    "read_table",
    "summary",
]

#: ``reason`` of the exclusions-log entries (step ``load``) that a person-filtered
#: load (``load_study(..., persons=...)``) records for each register table.
PERSONS_REASON = "rows of persons not in persons= (left out when loading)"
#: ``DataFrame.attrs`` key: data rows of the file left out by ``read_table(persons=...)``.
ROWS_LEFT_OUT = "kureval_rows_left_out"
_BATCH_ROWS = 1 << 20

REGISTER_DIR = "register"
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}
_HEADER_SCAN_ROWS = 30


class _Raw:
    """A file read as a grid of cells (``frame``, columns 0..k-1; blank rows left
    out) with each row's number in the file and, for CSV, its number of fields."""

    def __init__(self, frame: pd.DataFrame, numbers: Any, lengths: Any = None):
        self.frame = frame.reset_index(drop=True)
        self.numbers: list[int] = np.asarray(numbers, dtype=np.int64).tolist()
        self.lengths = None if lengths is None else np.asarray(lengths)
        self.rows = self.frame.iloc[:_HEADER_SCAN_ROWS].to_numpy(dtype=object).tolist()


# --------------------------------------------------------------------------- CSV


def _decode(
    data: bytes, file: str, table: str, cfg: TableConfig, notes: list[str]
) -> tuple[str | None, list[Problem]]:
    if cfg.encoding:
        try:
            return data.decode(cfg.encoding), []
        except UnicodeDecodeError as err:
            line = data[: err.start].count(b"\n") + 1
            expected = (
                f"text in the encoding set by encoding = {cfg.encoding!r} in [tables.{table}]; "
                "remove the setting to let kureval detect UTF-8 or Windows-1252"
            )
            return None, [Problem(file, line, None, data[err.start : err.start + 1], expected)]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        notes.append(f"{file} was read as UTF-16 (it has a UTF-16 byte-order mark).")
        return data.decode("utf-16"), []
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        try:
            text, used = data.decode("cp1252"), "Windows-1252 (Latin-1)"
        except UnicodeDecodeError:
            text, used = data.decode("latin-1"), "Latin-1 (ISO-8859-1)"
        notes.append(
            f"{file} is not UTF-8 (first non-UTF-8 byte on line {line}); it was read as {used}. "
            "Check that å, ä and ö look right, or save the file as UTF-8."
        )
        return text, []


def _read_csv(
    path: Path, file: str, table: str, cfg: TableConfig, notes: list[str]
) -> tuple[_Raw | None, list[Problem]]:
    text, problems = _decode(path.read_bytes(), file, table, cfg, notes)
    if text is None:
        return None, problems
    delimiter = cfg.delimiter or ","
    fast = _read_csv_fast(text, delimiter)
    return (fast, []) if fast is not None else _read_csv_exact(text, file, delimiter)


def _read_csv_fast(text: str, delimiter: str) -> _Raw | None:
    """pandas' C parser; None unless every physical line became one row (no quoted
    line breaks, no row with more fields than the first), so line numbers are exact."""
    try:
        grid = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            header=None,
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error):
        return None
    n_lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    if len(grid) != n_lines:
        return None
    stripped = grid.apply(lambda col: col.str.strip())
    keep = (stripped != "").any(axis=1).to_numpy()
    return _Raw(grid.loc[keep], np.flatnonzero(keep) + 1)


def _read_csv_exact(text: str, file: str, delimiter: str) -> tuple[_Raw | None, list[Problem]]:
    """Python's csv module: slower, but counts lines inside quoted fields."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[Any]] = []
    numbers: list[int] = []
    start = 1
    try:
        for record in reader:
            if record and "".join(record).strip():
                rows.append(record)
                numbers.append(start)
            start = reader.line_num + 1
    except csv.Error as err:
        return None, [Problem(file, start, None, None, f"well-formed CSV ({err})")]
    lengths = [len(r) for r in rows]
    width = max(lengths, default=0)
    frame = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype="str")
    return _Raw(frame, numbers, lengths), []


def _delimiter_problem(raw: _Raw, file: str, table: str, cfg: TableConfig) -> Problem | None:
    filled = (
        [c for c in raw.rows[0] if c is not None and c == c and str(c) != ""] if raw.rows else []
    )
    if len(filled) != 1:
        return None
    header = str(filled[0])
    expected = cfg.delimiter or ","
    for d, word in _DELIMITERS.items():
        if d != expected and d in header:
            shown = "\\t" if d == "\t" else d
            return Problem(
                file,
                raw.numbers[0],
                None,
                header,
                f"columns separated by {_DELIMITERS.get(expected, repr(expected))} "
                f"({expected!r}); the file seems to use {word} ({d!r}): set "
                f'delimiter = "{shown}" in [tables.{table}] of study.toml',
            )
    return None


# --------------------------------------------------------------------------- Excel, SPSS, Parquet


def _read_xlsx(path: Path, file: str, cfg: TableConfig) -> tuple[_Raw | None, list[Problem]]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many kinds for a broken file
        expected = f"a readable .xlsx workbook ({type(err).__name__}: {err})"
        return None, [Problem(file, None, None, None, expected)]
    try:
        names, sheet = wb.sheetnames, cfg.sheet
        if isinstance(sheet, int) and sheet > len(names):
            expected = f"a sheet position ≤ {len(names)} (sheets: {', '.join(names)})"
            return None, [Problem(file, None, None, sheet, expected)]
        if isinstance(sheet, str) and sheet not in names:
            expected = f"one of the workbook's sheets: {', '.join(names)}"
            return None, [Problem(file, None, None, sheet, expected)]
        name = (
            names[0] if sheet is None else (names[sheet - 1] if isinstance(sheet, int) else sheet)
        )
        ws = wb[name]
        ws.reset_dimensions()  # do not trust the stored sheet size; read every row
        rows: list[list[Any]] = []
        numbers: list[int] = []
        for number, values in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1):
            if any(v is not None and str(v).strip() != "" for v in values):
                rows.append(list(values))
                numbers.append(number)
    finally:
        wb.close()
    width = max((len(r) for r in rows), default=0)
    padded = [r + [None] * (width - len(r)) for r in rows]
    return _Raw(pd.DataFrame(padded, dtype=object), numbers), []


def _date_columns(table: str, cfg: TableConfig) -> frozenset[str]:
    """Names in the file of the table's contract date columns."""
    return frozenset(
        cfg.columns.get(c.name, c.name) for c in TABLES[table].columns if c.kind == "date"
    )


def _as_timestamps(column: Any) -> Any:
    """An Arrow date column as ``timestamp[ns]`` (None when a date does not fit)."""
    import pyarrow as pa

    try:
        return column.cast(pa.timestamp("ns"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _dates_cast(schema: Any, date_columns: Collection[str]) -> list[str]:
    """The file's columns that are contract date columns stored as Arrow dates
    (none when column names repeat: then the file is read as it is)."""
    import pyarrow as pa

    names = [str(n) for n in schema.names]
    stripped = [n.strip() for n in names]
    index = (schema.pandas_metadata or {}).get("index_columns", [])
    if len(set(stripped)) != len(stripped) or any(isinstance(i, str) for i in index):
        return []  # repeated names, or an index stored as columns: read as it is
    return [
        n
        for n, s in zip(names, stripped, strict=True)
        if s in date_columns and pa.types.is_date(schema.field(n).type)
    ]


def _read_parquet(path: Path, date_columns: Collection[str]) -> pd.DataFrame:
    """``pandas.read_parquet(path)``, except that contract date columns stored as
    Arrow dates arrive as ``datetime64[ns]`` (converted in Arrow) instead of one
    Python ``datetime.date`` object per cell: 15 M visits hold 30 M dates.  A
    column with a date outside 1677-09-22…2262-04-11 is read as it is."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    cast = _dates_cast(schema, date_columns)
    if not cast:
        return pd.read_parquet(path)
    stamps = pq.read_table(path, columns=cast)
    dates = {n: s for n in cast if (s := _as_timestamps(stamps.column(n))) is not None}
    if not dates:
        return pd.read_parquet(path)
    names = [str(n) for n in schema.names]
    rest = [n for n in names if n not in dates]
    if rest:
        df = pd.read_parquet(path, columns=rest)
    else:
        df = pd.DataFrame(index=pd.RangeIndex(stamps.num_rows))
    for name in sorted(dates, key=names.index):
        df.insert(names.index(name), name, dates[name].to_pandas().to_numpy())
    return df


def _read_frame(
    path: Path, file: str, date_columns: Collection[str] = ()
) -> tuple[pd.DataFrame | None, list[Problem]]:
    try:
        if path.suffix.lower() == ".sav":
            import pyreadstat

            df, _meta = pyreadstat.read_sav(str(path))
        else:
            df = _read_parquet(path, date_columns)
    except Exception as err:  # the readers raise library-specific errors
        expected = f"a readable {path.suffix} file ({type(err).__name__}: {err})"
        return None, [Problem(file, None, None, None, expected)]
    df = df.reset_index(drop=True)
    df["_row"] = range(2, len(df) + 2)
    return df, []


def _id_value_set(kind: Any, persons: Collection[str]) -> tuple[str, Any] | None:
    """How to compare a Parquet id column of Arrow type ``kind`` with ``persons``
    in Arrow: ``(how, value_set)``, or None when it cannot be done exactly enough
    (then the file is read whole and filtered in pandas).

    The Arrow comparison may keep too many rows, never too few: the rows kept are
    filtered again on the id as text (what :func:`coerce_table` makes of it).
    """
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        inner = _id_value_set(kind.value_type, persons)
        return None if inner is None or inner[0] != "text" else ("dictionary", inner[1])
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "text", pa.array(sorted(persons), type=pa.string())
    if pa.types.is_integer(kind) and not pa.types.is_uint64(kind):
        ints = sorted({int(p) for p in persons if p.lstrip("-").isdigit() and str(int(p)) == p})
        return "int", pa.array(ints, type=pa.int64())
    if pa.types.is_floating(kind):
        floats = set()
        for p in persons:
            try:
                floats.add(float(p))
            except ValueError:
                continue
        return "float", pa.array(sorted(floats), type=pa.float64())
    return None


def _id_mask(column: Any, how: str, value_set: Any) -> Any:
    """Boolean numpy mask: rows of an Arrow id column whose id may be in the value set."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if how == "dictionary":
        hit = pc.is_in(pc.utf8_trim_whitespace(column.dictionary.cast(pa.string())), value_set)
        mask = pc.take(hit, column.indices)
    elif how == "text":
        mask = pc.is_in(pc.utf8_trim_whitespace(column.cast(pa.string())), value_set)
    elif how == "int":
        mask = pc.is_in(column.cast(pa.int64()), value_set)
    else:
        mask = pc.is_in(column.cast(pa.float64()), value_set)
    return mask.fill_null(False).to_numpy(zero_copy_only=False)


def _read_parquet_persons(
    path: Path,
    file: str,
    id_column: str,
    persons: Collection[str],
    date_columns: Collection[str] = (),
) -> tuple[pd.DataFrame | None, list[Problem], int | None]:
    """The Parquet file's rows whose ``id_column`` may hold one of ``persons``,
    with ``_row`` = record number + 1 as in :func:`_read_frame`, and the number
    of data rows in the file (None when the filter could not be pushed into the
    read: then the whole file is returned, to be filtered by the caller).

    Why pyarrow: the file is read in batches of about a million rows and only
    the wanted persons' rows of each batch reach pandas (a register of 60 M
    visits is about 4 GiB as a typed pandas frame and more while it is read,
    its 12,000 matched persons' rows a few hundred MB).  ``pandas.read_parquet`` builds the whole frame
    first; with ``filters=`` it hands the filter to pyarrow's dataset reader,
    which (like ``pyarrow.dataset``) does not return the rows' record numbers
    that error messages need.  Counting the batches' rows does.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
        names = [str(n).strip() for n in schema.names]
        plan = (
            _id_value_set(schema.field(names.index(id_column)).type, persons)
            if id_column in names
            else None
        )
        if plan is None:
            pf.close()
            df, problems = _read_frame(path, file, date_columns)
            return df, problems, None
        where = names.index(id_column)
        kept: list[Any] = []
        rows: list[np.ndarray] = []
        offset = 0
        for batch in pf.iter_batches(batch_size=_BATCH_ROWS):
            mask = _id_mask(batch.column(where), *plan)
            if mask.any():
                kept.append(batch.filter(pa.array(mask)))
                rows.append(offset + np.flatnonzero(mask))
            offset += batch.num_rows
        total = pf.metadata.num_rows
        pf.close()
        table = (
            pa.Table.from_batches(kept) if kept else schema.empty_table()
        ).replace_schema_metadata(schema.metadata)
        for name in _dates_cast(schema, date_columns):  # as in _read_parquet
            stamps = _as_timestamps(table.column(name))
            if stamps is not None:
                table = table.set_column(table.schema.get_field_index(name), name, stamps)
        df = table.to_pandas()
    except Exception as err:  # the readers raise library-specific errors
        expected = f"a readable {path.suffix} file ({type(err).__name__}: {err})"
        return None, [Problem(file, None, None, None, expected)], None
    df = df.reset_index(drop=True)
    df["_row"] = (np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)) + 2
    return df, [], total


# --------------------------------------------------------------------------- grid → frame


def _find_header(raw: _Raw, wanted: list[str]) -> int | None:
    """Index in raw.rows of the row holding most of the wanted column names
    (at least half of them, the first such row on ties); None if no row does."""
    hits = [len(set(wanted) & {str(c).strip() for c in row if c is not None}) for row in raw.rows]
    best = max(hits, default=0)
    if best == 0 or 2 * best < len(wanted):
        return None
    return hits.index(best)


def _header_index(
    raw: _Raw, file: str, table: str, cfg: TableConfig, wanted: list[str]
) -> tuple[int | None, list[Problem]]:
    """Index in ``raw.rows`` of the header row, or a problem saying where it seems to be."""
    if not raw.rows:
        expected = "a header row with the column names and rows of data (the file is empty)"
        return None, [Problem(file, None, None, None, expected)]
    if cfg.header_row is not None:
        if cfg.header_row in raw.numbers:
            return raw.numbers.index(cfg.header_row), []
        expected = (
            f"the column names on row {cfg.header_row} (header_row in [tables.{table}]), "
            "but that row is empty or beyond the end of the file"
        )
        return None, [Problem(file, cfg.header_row, None, None, expected)]
    found = _find_header(raw, wanted)
    if found is None or found == 0:
        return 0, []
    row = raw.numbers[found]
    expected = (
        f"the column names on the first row; they seem to be on row {row} (title rows "
        f"above the header?): set header_row = {row} in [tables.{table}] of study.toml"
    )
    return None, [Problem(file, row, None, None, expected)]


def _header_names(raw: _Raw, h: int, file: str) -> tuple[list[str], list[Problem]]:
    """Column names of header row ``h`` (trailing empty columns dropped, blanks named)."""
    cells = raw.frame.iloc[h].tolist()
    if raw.lengths is not None:
        cells = cells[: raw.lengths[h]]
    header = [("" if c is None or c != c else str(c).strip()) for c in cells]
    body = raw.frame.iloc[h + 1 :]
    while header and header[-1] == "" and not _has_values(body.iloc[:, len(header) - 1 :]):
        header.pop()
    problems = []
    for j, name in enumerate(header):
        if name == "":
            header[j] = f"column_{j + 1}"
        elif name in header[:j]:
            expected = "each column name once (duplicate)"
            problems.append(Problem(file, raw.numbers[h], name, name, expected))
    return header, problems


def _has_values(block: pd.DataFrame) -> Any:
    """Per row: does ``block`` hold any non-empty cell?"""
    if block.shape[1] == 0:
        return False
    filled = block.apply(
        lambda col: col.map(lambda v: v is not None and v == v and str(v).strip() != "")
    )
    return filled.any(axis=1).to_numpy().any()


def _grid_to_frame(
    raw: _Raw, file: str, table: str, cfg: TableConfig, wanted: list[str], text: bool
) -> tuple[pd.DataFrame | None, list[Problem]]:
    h, problems = _header_index(raw, file, table, cfg, wanted)
    if h is None:
        return None, problems
    header, problems = _header_names(raw, h, file)
    width = len(header)
    body = raw.frame.iloc[h + 1 :]
    numbers = raw.numbers[h + 1 :]
    if raw.lengths is not None:
        expected = (
            f"{width} fields as in the header (a value containing the delimiter must be quoted)"
        )
        for n_fields, number in zip(raw.lengths[h + 1 :], numbers, strict=True):
            if n_fields > width:
                problems.append(Problem(file, number, None, int(n_fields), expected))
    if problems:
        return None, problems
    df = body.iloc[:, :width].copy()
    for j in range(df.shape[1], width):  # rows shorter than the header (Excel)
        df[j] = None
    df.columns = header
    df = df.astype("str" if text else object).reset_index(drop=True)
    df["_row"] = pd.Series(numbers, dtype="int64")
    return df, []


def _rename(
    df: pd.DataFrame, file: str, table: str, cfg: TableConfig
) -> tuple[pd.DataFrame, list[Problem]]:
    spec = TABLES[table]
    mapping = {c: cfg.columns.get(c, c) for c in spec.column_names}
    df.columns = [str(c).strip() for c in df.columns]
    problems: list[Problem] = []
    present = list(df.columns)
    for contract, in_file in mapping.items():
        mapped = contract in cfg.columns
        if in_file not in present:
            if spec.columns[spec.column_names.index(contract)].required:
                how = f" (mapped to {contract} in [tables.{table}].columns)" if mapped else ""
                problems.append(
                    Problem(
                        file,
                        None,
                        in_file,
                        None,
                        f"a column named {in_file!r}{how}; the file has: "
                        + ", ".join(c for c in present if c != "_row"),
                    )
                )
        elif mapped and contract in present and contract != in_file:
            problems.append(
                Problem(
                    file,
                    None,
                    contract,
                    None,
                    f"no column called {contract!r} because [tables.{table}].columns "
                    f"maps {contract} to {in_file!r}",
                )
            )
    rename = {in_file: contract for contract, in_file in mapping.items() if in_file in present}
    return df.rename(columns=rename), problems


def _read_any(
    path: Path,
    file: str,
    table: str,
    cfg: TableConfig,
    notes: list[str],
    persons: Collection[str] | None = None,
) -> tuple[pd.DataFrame | None, list[Problem], int | None]:
    """The file as a DataFrame of raw values with the file's column names and
    ``_row``, and the number of data rows in the file when the rows were
    already narrowed down to ``persons`` while reading (None otherwise)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet" and persons is not None:
        id_column = cfg.columns.get("person_id", "person_id")
        return _read_parquet_persons(path, file, id_column, persons, _date_columns(table, cfg))
    if suffix in (".sav", ".parquet"):
        return (*_read_frame(path, file, _date_columns(table, cfg)), None)
    if suffix not in (".csv", ".xlsx"):
        expected = "a file ending in " + ", ".join(TABLE_EXTENSIONS)
        return None, [Problem(file, None, None, None, expected)], None
    if suffix == ".csv":
        raw, problems = _read_csv(path, file, table, cfg, notes)
    else:
        raw, problems = _read_xlsx(path, file, cfg)
    if raw is None:
        return None, problems, None
    wanted = [cfg.columns.get(c, c) for c in TABLES[table].required_names]
    if suffix == ".csv" and _find_header(raw, wanted) is None:
        wrong = _delimiter_problem(raw, file, table, cfg)
        if wrong is not None:
            return None, [wrong], None
    return (*_grid_to_frame(raw, file, table, cfg, wanted, text=suffix == ".csv"), None)


def read_table(
    path: str | Path,
    table_config: TableConfig | None,
    table_name: str,
    file_label: str | None = None,
    *,
    persons: Collection[str] | None = None,
) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read and type one contract table (or only the rows of some persons).

    Parameters
    ----------
    path : str or Path
        The file (.csv, .xlsx, .sav or .parquet).
    table_config : TableConfig or None
        ``[tables.<name>]`` settings (column mapping, sheet, header row,
        delimiter, encoding); None = defaults.
    table_name : str
        Contract table name, e.g. ``"participants"``.
    file_label : str, optional
        Name used in problems (default: the file name).
    persons : collection of str, optional
        Keep only the rows whose ``person_id`` (as text, as it is after
        loading) is one of these; only those rows are typed and checked, and
        ``_row`` still gives each row's number in the file.  A Parquet file is
        filtered while it is read (see :func:`load_study`); other formats are
        read whole, then filtered.  ``df.attrs["kureval_rows_left_out"]`` is
        the number of the file's data rows left out.  None (default) = all rows.

    Returns
    -------
    (DataFrame or None, list of Problem)
        The typed table with ``_row`` (None when the file could not be read
        as a table at all), and every problem found.  Notes about how the
        file was read (e.g. an encoding fallback) are in ``df.attrs["notes"]``.
    """
    path = Path(path)
    cfg = table_config or TableConfig()
    file = file_label or path.name
    notes: list[str] = []
    if not path.is_file():
        return None, [Problem(file, None, None, None, f"the file {file} (it does not exist)")]
    df, problems, total = _read_any(path, file, table_name, cfg, notes, persons)
    if df is None:
        return None, problems
    df, problems = _rename(df, file, table_name, cfg)
    if problems:
        return None, problems
    left_out = 0
    if persons is not None:
        # the id as coerce_table makes it (stripped text; 1001.0 from Excel -> "1001")
        keep = isin(_as_text(df["person_id"]), persons)
        left_out = (len(df) if total is None else total) - int(keep.sum())
        df = df.loc[keep].reset_index(drop=True)
    colnames = {c: cfg.columns.get(c, c) for c in TABLES[table_name].column_names}
    typed, problems = coerce_table(df, table_name, file, colnames)
    typed.attrs["notes"] = notes
    if persons is not None:
        typed.attrs[ROWS_LEFT_OUT] = left_out
    return typed, problems


def find_table_file(folder: Path, name: str, cfg: TableConfig) -> tuple[Path | None, list[Problem]]:
    """The file holding table ``name`` in a study folder (None when there is none).

    Two candidates (e.g. ``participants.csv`` and ``participants.xlsx``) is a
    problem for the caller to raise as a :class:`ConfigError`.
    """
    if cfg.file is not None:
        return folder / cfg.file, []
    sub = folder / REGISTER_DIR if TABLES[name].register else folder
    found = [sub / f"{name}{ext}" for ext in TABLE_EXTENSIONS if (sub / f"{name}{ext}").is_file()]
    if len(found) > 1:
        shown = ", ".join(str(p.relative_to(folder)) for p in found)
        return None, [
            Problem(
                shown,
                None,
                None,
                None,
                f"one file for the {name} table; remove all but one, or name the one to "
                f'use with file = "..." in [tables.{name}] of study.toml',
            )
        ]
    return (found[0] if found else None), []


# --------------------------------------------------------------------------- whole study


def _near_misses(sub: Path, name: str) -> str:
    """' (found: participants.xls)' when files of another format or case exist."""
    if not sub.is_dir():
        return ""
    near = sorted(p.name for p in sub.iterdir() if p.stem.lower() == name and p.is_file())
    return f" (found {', '.join(near)}, which kureval does not read)" if near else ""


def _locate(
    folder: Path, config: StudyConfig
) -> tuple[dict[str, Path], list[Problem], list[Problem]]:
    files: dict[str, Path] = {}
    ambiguous: list[Problem] = []
    missing: list[Problem] = []
    for name, spec in TABLES.items():
        path, problems = find_table_file(folder, name, config.table(name))
        ambiguous += problems
        if path is not None:
            files[name] = path
        elif not spec.register and not problems:
            expected = (
                f"a {name} table in the study folder ({name}.csv, .xlsx, .sav or .parquet); "
                f"it was not found{_near_misses(folder, name)}"
            )
            missing.append(Problem(f"{name}.csv", None, None, None, expected))
    registers = [n for n in files if TABLES[n].register]
    if registers and "population" not in files:
        expected = (
            "a population table (register/population.csv, …) because the study has "
            "register tables: "
            + ", ".join(registers)
            + _near_misses(folder / REGISTER_DIR, "population")
        )
        missing.append(Problem(f"{REGISTER_DIR}/population.csv", None, None, None, expected))
    return files, ambiguous, missing


def _label(folder: Path, path: Path) -> str:
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return str(path)


def _person_ids(persons: Iterable[Any]) -> frozenset[str]:
    """``persons=`` as the set of ids as text (as ``person_id`` is after loading)."""
    if isinstance(persons, str | bytes) or not isinstance(persons, Iterable):
        raise ConfigError(
            [
                Problem(
                    None,
                    None,
                    "persons",
                    persons if isinstance(persons, str) else type(persons).__name__,
                    "a list (or other collection) of person ids, e.g. "
                    'persons=match.matched["id"], not a single id',
                )
            ],
            title="load_study(persons=...) needs a collection of person ids",
        )
    ids: set[str] = set()
    bad: list[Problem] = []
    for value in persons:
        text = _text_value(value)
        if text is None:
            bad.append(Problem(None, None, "persons", None, "a person id, not an empty value"))
        else:
            ids.add(str(text))
    if bad:
        raise ConfigError(bad[:1], title="load_study(persons=...) holds an empty id")
    return frozenset(ids)


def is_person_filtered(study: Study) -> bool:
    """True when ``study`` was loaded with ``persons=`` (its register tables hold
    only some persons' rows), as recorded in ``study.exclusions``."""
    log = getattr(getattr(study, "exclusions", None), "table", None)
    if log is None:  # not a loaded Study (e.g. tables assembled by hand)
        return False
    return bool(((log["step"] == "load") & (log["reason"] == PERSONS_REASON)).any())


def load_study(
    path: str | Path,
    extra_checks: Iterable[Callable[[Study], list[Problem]]] = (),
    *,
    persons: Iterable[Any] | None = None,
) -> Study:
    """Read and validate a study folder.

    Parameters
    ----------
    path : str or Path
        The study folder (holding ``study.toml``).
    extra_checks : iterable of callables, optional
        Each is called as ``check(study) -> list[Problem]`` once the tables
        were read and typed (e.g. instrument item ranges); its problems are
        reported together with the table problems.
    persons : iterable of person ids, optional
        Read the register tables (``population``, ``visits``, ``sick_leave``,
        ``dispensations``) only for these persons, e.g. the ids of the matched
        sets (``match.matched["id"]``).  Ids are compared as text, as
        ``person_id`` is after loading (``1001`` and ``"1001"`` are the same).
        ``participants`` and ``responses`` are still read whole.  None
        (default) reads every row.  See Notes.

    Returns
    -------
    Study

    Raises
    ------
    ConfigError
        ``study.toml`` is missing or invalid, or a table has two candidate
        files; ``persons`` is given for a study without register tables, is a
        single string, holds an empty value, or names persons that are not in
        ``register/population`` (all of them are listed).
    DataError
        Listing **every** problem in every table.

    Notes
    -----
    **Reading only some persons** (``persons=``) makes the register design
    feasible on a large register: with 1,000,000 persons (60 M visits, 3 M
    sick-leave spells, 20 M dispensations in Parquet) a full load needs about
    7 GiB and a minute, reading the 12,000 matched persons' rows about 0.7 GiB
    and 8 s (``benchmarks/bench_study_io.py --register``, RESULTS-study-io.md).

    * Parquet files are filtered **while they are read**, with pyarrow: the
      file is read in batches of about a million rows, the ``person_id``
      column of each batch is compared with the ids in Arrow
      (``pyarrow.compute.is_in``, on the id with surrounding spaces removed),
      and only the matching rows reach pandas.  pandas alone cannot do this
      (``read_parquet`` builds the whole frame first), and a pyarrow dataset
      filter does not give the rows' record numbers, which error messages
      need.  CSV, Excel and SPSS files are read whole, then filtered.
    * Validation is the same for the rows kept: they are typed and checked by
      the same rules, and problems give each row's number **in the file**.
      Rows of other persons are not checked.  The population rows of the
      participants are read and checked too (so that "participant present in
      register/population" is still checked), then left out unless the
      participant is in ``persons``.
    * Every register table then holds exactly the full load's rows of these
      persons (same order, same ``_row``).  Ids not found in
      ``register/population`` are an error: a matched id that is not in the
      register means the ids or the study folder are not the right ones.
    * The study records that it is person-filtered: ``study.exclusions`` gets
      one entry per register table (step ``load``, reason
      :data:`PERSONS_REASON`, the number of rows not read) and ``study.notes``
      says so; :func:`is_person_filtered` tells.  Matching
      (``kv.match_reference``) needs the whole register and refuses such a
      study; register windows, DiD and survival for the given persons work.
    """
    folder = Path(path)
    config = load_config(folder)
    wanted = None if persons is None else _person_ids(persons)
    files, ambiguous, problems = _locate(folder, config)
    if ambiguous:
        raise ConfigError(ambiguous, title="more than one file for a table")
    if wanted is not None and not any(TABLES[n].register for n in files):
        raise ConfigError(
            [
                Problem(
                    None,
                    None,
                    "persons",
                    None,
                    "a study with register tables (register/population.*, …); "
                    "this study has none, so persons= has nothing to select",
                )
            ],
            title="load_study(persons=...) selects register rows",
        )
    tables: dict[str, pd.DataFrame] = {}
    labels = {name: _label(folder, p) for name, p in files.items()}
    notes: list[str] = []
    left_out: dict[str, int] = {}
    for name, file in files.items():
        keep: frozenset[str] | None = None
        if wanted is not None and TABLES[name].register:
            keep = wanted
            if name == "population" and "participants" in tables:
                keep = wanted | frozenset(tables["participants"]["person_id"].dropna())
        df, found = read_table(
            file, config.table(name), name, file_label=labels[name], persons=keep
        )
        problems += found
        if df is not None:
            tables[name] = df
            notes += df.attrs.pop("notes", [])
            if keep is not None:
                left_out[name] = int(df.attrs.pop(ROWS_LEFT_OUT))
        if name == "population" and wanted is not None and df is not None:
            _check_known(wanted, df, labels[name])
    if "participants" in tables and tables["participants"].empty:
        problems.append(
            Problem(labels["participants"], None, None, None, "at least one participant row")
        )
    structural = (
        all(name in tables for name in files) and "participants" in tables and "responses" in tables
    )
    colnames = {
        n: {c: config.table(n).columns.get(c, c) for c in TABLES[n].column_names} for n in tables
    }
    problems += check_study(tables, config, labels, colnames)
    for df in tables.values():
        df.attrs.pop(ABSENT, None)
    if wanted is not None and "population" in tables:
        pop = tables["population"]
        mine = isin(pop["person_id"], wanted)
        left_out["population"] += int((~mine).sum())
        tables["population"] = pop.loc[mine].reset_index(drop=True)
    if "responses" in tables:
        resp = tables["responses"]
        known = resp["timepoint"].where(resp["timepoint"].isin(config.timepoints))
        resp["timepoint"] = pd.Categorical(known, dtype=declared_order(config))
    if wanted is not None:
        shown = ", ".join(f"{n} {k:,}" for n, k in left_out.items())
        notes.append(
            f"Register tables were read only for the {len(wanted):,} persons given in "
            f"persons= (rows of other persons left out: {shown}); matching needs the "
            "whole register."
        )
    study = Study(
        path=folder,
        config=config,
        participants=tables.get("participants", pd.DataFrame()),
        responses=tables.get("responses", pd.DataFrame()),
        population=tables.get("population"),
        visits=tables.get("visits"),
        sick_leave=tables.get("sick_leave"),
        dispensations=tables.get("dispensations"),
        files=dict(files),
        notes=tuple(notes),
    )
    for name, n in left_out.items():
        detail = f"load_study(persons=...): {len(wanted or ())} persons asked for"
        study.exclusions.record("load", name, PERSONS_REASON, n, detail)
    if structural:
        for check in extra_checks:
            try:
                problems += list(check(study))
            except (DataError, ConfigError) as err:  # a check may raise instead of returning
                problems += err.problems
    if problems:
        raise DataError(
            _sorted(problems, labels),
            title=f"the study in {str(folder)!r} breaks the data contract",
        )
    return study


def _check_known(wanted: frozenset[str], population: pd.DataFrame, label: str) -> None:
    """ConfigError listing the ids of ``persons=`` that are not in the population."""
    found = set(population["person_id"].dropna().astype(str))
    unknown = sorted(wanted - found)
    if unknown:
        raise ConfigError(
            [
                Problem(
                    None,
                    None,
                    "persons",
                    pid,
                    f"a person_id present in {label} (persons= names a person the register "
                    "does not hold; check that the ids and the study folder belong together)",
                )
                for pid in unknown
            ],
            title=f"load_study(persons=...) names {len(unknown)} persons not in {label}",
        )


def _sorted(problems: list[Problem], labels: Mapping[str, str]) -> list[Problem]:
    """Problems ordered by table (contract order), then row; study.toml last."""
    order = {label: i for i, label in enumerate(labels[n] for n in TABLES if n in labels)}

    def key(p: Problem) -> tuple[int, int]:
        return (order.get(str(p.file), len(order)), -1 if p.row is None else p.row)

    return sorted(problems, key=key)


# --------------------------------------------------------------------------- summary


def summary(study: Study) -> str:
    """A readable summary of a loaded study (what ``kureval validate`` prints).

    Same as :meth:`Study.summary`.
    """
    return study.summary()
