"""Build the HTML report of a study: run the notebooks, export, index, scan.

``build(study_path, out_dir, lang)`` does, in order:

1. reads every person id of the study (participants and register
   population) for the final scan; if those tables have problems, the whole
   study is validated (``kureval.load_study``) so that bad data stop the
   build, with every problem listed, before any notebook runs;
2. executes every ``notebooks/*.ipynb`` in name order (digit runs compared as
   numbers, so ``2.0`` comes before ``10.0``) with papermill on a fresh
   kernel that runs *this* Python interpreter (a private kernel spec is
   written to a temporary folder, so no globally registered kernel is
   needed), injecting the parameters ``study_path``, ``lang`` and ``out_dir``
   (absolute paths); an error in any cell stops the build with a
   :class:`ReportError` naming the notebook, the cell (numbered from 1 as in
   the notebook file, all cells counted) and the error;
3. exports each executed notebook to ``<stem>.html`` without code, prompts or
   stderr output, images embedded as base64 PNG, with one small inlined
   stylesheet and no external resources;
4. writes ``index.html`` with the study's name, build date (UTC), kureval
   version, language, a SHA-256 fingerprint of the input files and a link to
   every section;
5. scans everything written (HTML, CSV, SVG, …) for the study's person ids,
   for anything that looks like a Swedish personnummer, and for row-level
   records, and fails if it finds any (identifiers are shown masked).

Everything is written to a hidden staging folder beside ``out_dir`` and moved
into place only when the scan is clean, so a failed build publishes nothing
(a previous report in ``out_dir`` stays until a new one replaces it).
Executed notebooks are not kept: their outputs are already in the HTML pages.

Section titles
--------------
A section's title in the index is the first level-1 heading (``# Title``)
of the executed notebook, looked up in markdown cells *and* in markdown
outputs, in cell order.  Report notebooks print their title in the chosen
language as their first output, ``display(Markdown("# " + t(key, lang)))``,
because static markdown cells cannot change language.  Without any heading,
the notebook's file name is used.

Cells tagged ``remove-cell`` are left out of the HTML; cells tagged
``remove-output`` keep no output.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import re
import shutil
import sys
import tempfile
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from kureval.errors import KurevalError
from kureval.report.labels import check_lang, t
from kureval.report.privacy import ID_COLUMNS, scan_output, scannable_ids

__all__ = [
    "ReportError",
    "build",
    "fingerprint",
    "report_main",
    "save_figure",
    "save_table",
    "scan_output",
]

MARKER = ".kureval-report"
KERNEL_NAME = "kureval-build"
_KERNEL_ARGS = ("-m", "ipykernel_launcher", "-f", "{connection_file}", "--log-level=CRITICAL")
# inline figures even when the caller set MPLBACKEND (e.g. Agg in tests)
_KERNEL_ENV = {
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ReportError(KurevalError):
    """The report could not be built (a notebook failed, or the output leaks identifiers)."""


@dataclass(frozen=True)
class Section:
    """One executed notebook: its file stem, title and run time in seconds."""

    stem: str
    title: str
    seconds: float


# ---------------------------------------------------------------------------- public API


def build(
    study_path: str | Path,
    out_dir: str | Path,
    lang: str = "en",
    notebooks_dir: str | Path | None = None,
    timeout: int = 600,
    *,
    jobs: int = 1,
    verbose: bool = True,
) -> Path:
    """Build the report of the study in ``study_path`` into ``out_dir``.

    Parameters
    ----------
    study_path : str or Path
        Study folder (``study.toml`` and tables).
    out_dir : str or Path
        Report folder; created, or replaced if it holds an earlier kureval
        report (a folder with other content is never overwritten).
    lang : {"en", "sv"}
        Report language.
    notebooks_dir : str or Path, optional
        Folder of report notebooks; default ``notebooks/`` in the current
        working directory.
    timeout : int, default 600
        Longest time one cell may run, in seconds.
    jobs : int, default 1
        Notebooks run at the same time.  The default runs them one after the
        other in name order, which notebooks that share cached results
        (``data/processed/``) may rely on; ``jobs > 1`` runs independent
        notebooks in parallel, each on its own kernel (the index and the
        error reported on failure still follow name order).
    verbose : bool, default True
        Print progress (notebook, seconds) to stdout.

    Returns
    -------
    Path
        The report's ``index.html``.

    Raises
    ------
    ConfigError
        ``study.toml`` is invalid, or ``lang`` is not supported.
    DataError
        The participants or population table is invalid (raised before any
        notebook runs, listing every problem of the study).
    ReportError
        No notebooks; a cell failed (a DataError raised by another table in
        the first notebook that loads the study arrives here, with its full
        list of problems); or the output scan found an identifier or a
        row-level record.
    """
    check_lang(lang)
    study_path = Path(study_path).resolve()
    out_dir = Path(out_dir).resolve()
    nb_dir = (
        Path(notebooks_dir).resolve() if notebooks_dir is not None else Path.cwd() / "notebooks"
    )
    notebooks = _notebooks(nb_dir)
    _check_out_dir(out_dir)
    say = print if verbose else (lambda *a, **k: None)

    t0 = time.perf_counter()
    name, ids, row_limit = _study_facts(study_path)
    say(f"kureval report: {name} ({len(notebooks)} notebooks, language {lang})")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        meta = _metadata(name, study_path, lang)
        sections = _run_all(notebooks, study_path, staging, lang, timeout, say, meta, jobs)
        _write_index(staging, sections, meta, lang)
        (staging / MARKER).write_text(
            "kureval report folder; replaced by the next build\n", "utf-8"
        )
        say("scanning the output for identifiers and row-level records ...")
        skipped = scannable_ids(ids)[1]
        if skipped:
            say(
                f"  note: {skipped} person id(s) are too short (or short numbers) to tell apart "
                "from ordinary numbers; they were not searched for as text"
            )
        findings = scan_output(staging, ids, max_rows=row_limit)
        if findings:
            raise ReportError(
                "the report was not written, because its output contains identifiers or "
                "row-level records:\n" + "\n".join(f"  - {f}" for f in findings)
            )
        _replace(out_dir, staging)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    say(f"done in {time.perf_counter() - t0:.1f} s: {out_dir / 'index.html'}")
    return out_dir / "index.html"


def save_figure(fig: Any, name: str, out_dir: str | Path) -> tuple[Path, Path]:
    """Save ``fig`` as ``figures/<name>.png`` and ``.svg`` under ``out_dir``.

    Both files are deterministic: no creation date in the metadata, and SVG
    element ids from a fixed hash salt (``svg.hashsalt``).  Text in the SVG
    stays text (``svg.fonttype = "none"``), so it is searchable and the
    report's identifier scan can read it.  Returns the two paths.
    """
    import matplotlib as mpl

    folder = _subdir(out_dir, "figures", name)
    png, svg = folder / f"{name}.png", folder / f"{name}.svg"
    with mpl.rc_context({"svg.hashsalt": "kureval", "svg.fonttype": "none"}):
        fig.savefig(png, format="png", dpi=200, bbox_inches="tight", metadata={"Software": None})
        fig.savefig(
            svg, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None}
        )
    return png, svg


def save_table(df: pd.DataFrame, name: str, out_dir: str | Path) -> Path:
    """Save a (display) table as ``tables/<name>.csv`` under ``out_dir``.

    UTF-8 with a byte-order mark, so that Excel shows å, ä and ö; the index
    is written unless it is a default range index; multi-level column labels
    are joined with " | ".  A table with a person-id column is refused.
    """
    bad = [c for c in map(str, df.columns) if c.strip().lower() in ID_COLUMNS]
    if bad:
        raise ReportError(f"table {name!r} has a person-id column ({', '.join(bad)}): not saved")
    out = df.copy()
    if isinstance(out.columns, pd.MultiIndex):
        out.columns = [" | ".join(str(p) for p in col if str(p)) for col in out.columns]
    path = _subdir(out_dir, "tables", name) / f"{name}.csv"
    keep_index = not isinstance(out.index, pd.RangeIndex)
    out.to_csv(path, index=keep_index, encoding="utf-8-sig", lineterminator="\n")
    return path


def fingerprint(study_path: str | Path) -> str:
    """SHA-256 over the study folder's files: sorted relative names, sizes and contents.

    Hidden files (name starting with ``.``) are ignored.  The same input
    files give the same fingerprint on any machine.
    """
    root = Path(study_path)
    h = hashlib.sha256()
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(s.startswith(".") for s in p.relative_to(root).parts)
    )
    for p in files:
        data = p.read_bytes()
        h.update(p.relative_to(root).as_posix().encode("utf-8") + b"\0")
        h.update(str(len(data)).encode("ascii") + b"\0")
        h.update(data)
    return h.hexdigest()


def report_main(args: argparse.Namespace) -> int:
    """``kureval report STUDY --out DIR --lang sv``: build and print the index path.

    ``args`` needs ``path``; ``out`` (default ``reports/<study folder name>``),
    ``lang`` (default: the study's language), ``notebooks`` and ``jobs`` are
    optional.
    Returns the exit status (errors are left to the caller to print).
    """
    from kureval.study.config import load_config

    path = Path(args.path)
    lang = getattr(args, "lang", None) or load_config(path).language
    out = getattr(args, "out", None) or Path("reports") / path.resolve().name
    nbs, jobs = getattr(args, "notebooks", None), getattr(args, "jobs", 1) or 1
    index = build(path, out, lang=lang, notebooks_dir=nbs, jobs=jobs)
    print(f"report written to {index}")
    return 0


# ---------------------------------------------------------------------------- running


def _natural(path: Path) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path.name)]


def _notebooks(nb_dir: Path) -> list[Path]:
    if not nb_dir.is_dir():
        raise ReportError(f"notebook folder {nb_dir} does not exist")
    found = sorted((p for p in nb_dir.glob("*.ipynb") if not p.name.startswith(".")), key=_natural)
    if not found:
        raise ReportError(f"no notebooks (*.ipynb) in {nb_dir}")
    return found


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and (
        not out_dir.is_dir() or (any(out_dir.iterdir()) and not (out_dir / MARKER).exists())
    ):
        raise ReportError(
            f"{out_dir} exists and is not an earlier kureval report; choose an empty or new folder"
        )


def _replace(out_dir: Path, staging: Path) -> None:
    staging.chmod(0o755)  # mkdtemp makes it private; a report is meant to be opened and shared
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)


@contextmanager
def _kernel_spec() -> Iterator[str]:
    """A kernel spec that runs the current interpreter, visible only during the build."""
    with tempfile.TemporaryDirectory(prefix="kureval-kernel-") as tmp:
        spec = Path(tmp) / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True)
        spec_json = {"argv": [sys.executable, *_KERNEL_ARGS], "env": _KERNEL_ENV}
        spec_json |= {"display_name": "kureval (build)", "language": "python"}
        (spec / "kernel.json").write_text(json.dumps(spec_json), "utf-8")
        old = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = tmp + (os.pathsep + old if old else "")
        try:
            yield KERNEL_NAME
        finally:
            if old is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = old


def _run_all(notebooks, study_path, out, lang, timeout, say, meta, jobs=1) -> list[Section]:
    n = len(notebooks)
    with _kernel_spec() as kernel:

        def run(nb_path: Path) -> Section:
            t0 = time.perf_counter()
            nb = _execute(nb_path, kernel, study_path, out, lang, timeout)
            title = _title(nb) or nb_path.stem
            _export(nb, out / f"{nb_path.stem}.html", title, meta)
            return Section(nb_path.stem, title, time.perf_counter() - t0)

        if jobs <= 1:
            sections = []
            for k, nb_path in enumerate(notebooks, 1):
                say(f"[{k}/{n}] {nb_path.name} ...", end=" ", flush=True)
                sections.append(run(nb_path))
                say(f"{sections[-1].seconds:.1f} s")
            return sections
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(run, nb_path) for nb_path in notebooks]
            sections = []
            try:
                for k, (nb_path, future) in enumerate(zip(notebooks, futures, strict=True), 1):
                    sections.append(future.result())  # the first failure in name order is raised
                    say(f"[{k}/{n}] {nb_path.name} ... {sections[-1].seconds:.1f} s")
            finally:
                for future in futures:
                    future.cancel()
            return sections


def _execute(nb_path: Path, kernel: str, study_path: Path, out: Path, lang: str, timeout: int):
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    params = {"study_path": str(study_path), "lang": lang, "out_dir": str(out)}
    try:
        options: dict[str, Any] = {"kernel_name": kernel, "language": "python"}
        options |= {"cwd": str(nb_path.parent)}
        options |= {"progress_bar": False, "log_output": False, "execution_timeout": timeout}
        return pm.execute_notebook(str(nb_path), None, parameters=params, **options)
    except PapermillExecutionError as err:
        cell = _original_cell(nb_path, err.cell_index)
        first = next((ln for ln in str(err.source).splitlines() if ln.strip()), "")
        raise ReportError(
            f"notebook {nb_path.name} failed in {cell}: {err.ename}: {_ANSI.sub('', str(err.evalue))}"
            f"\n  (the cell starts: {first.strip()[:100]!r})"
        ) from None
    except Exception as err:  # kernel died, timeout, unreadable notebook
        raise ReportError(
            f"notebook {nb_path.name} could not be run: {type(err).__name__}: {err}"
        ) from None


def _original_cell(nb_path: Path, index: int) -> str:
    """Cell number (from 1) in the notebook file, undoing papermill's injected parameters cell."""
    import nbformat

    cells = nbformat.read(nb_path, as_version=4).cells
    tagged = [
        i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])
    ]
    injected = tagged[0] + 1 if tagged else 0
    if index == injected:
        return "the injected parameters cell"
    original = index - 1 if index > injected else index
    return f"cell {original + 1} of {len(cells)}"


_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


_REMOVE_CELL = {"remove-cell", "remove_cell", "injected-parameters", "parameters"}


def _title(nb) -> str | None:
    """First '# ' heading among the cells that reach the HTML (see module notes)."""
    for cell in nb.cells:
        if _REMOVE_CELL & set(cell.get("metadata", {}).get("tags", [])):
            continue
        texts = [cell.source] if cell.cell_type == "markdown" else []
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/markdown" in data:
                texts.append(data["text/markdown"])
        for text in texts:
            m = _HEADING.search(text)
            if m:
                return m.group(1).strip()
    return None


# ---------------------------------------------------------------------------- HTML


def _css() -> str:
    return (resources.files("kureval.report") / "templates" / "report.css").read_text("utf-8")


def _page(title: str, body: str, meta: dict[str, str], nav: str = "") -> str:
    lang = meta["language"]
    footer = html.escape(f"{meta['study']} · kureval {meta['version']} · {meta['built']}")
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'  # no favicon request (a 404 in the console)
        f"<title>{html.escape(title)}</title>\n<style>\n{_css()}</style>\n</head>\n<body>\n"
        f'<header class="kv-header">{nav}</header>\n<main>\n{body}\n</main>\n'
        f'<footer class="kv-footer">{footer}</footer>\n</body>\n</html>\n'
    )


def _export(nb, path: Path, title: str, meta: dict[str, str]) -> None:
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    nb = _strip_stderr(nb)
    exporter = HTMLExporter(
        template_name="basic",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    tags = TagRemovePreprocessor(
        remove_cell_tags=_REMOVE_CELL,
        remove_all_outputs_tags={"remove-output", "remove_output"},
        enabled=True,
    )
    exporter.register_preprocessor(tags, enabled=True)
    body, _ = exporter.from_notebook_node(nb)
    body = body.replace("No description has been provided for this image", html.escape(title))
    nav = (
        f'<nav><a href="index.html">{html.escape(t("report_index", meta["language"]))}</a></nav>'
        f'<div class="kv-study">{html.escape(meta["study"])}</div>'
    )
    path.write_text(_page(title, body, meta, nav), "utf-8")


def _strip_stderr(nb):
    import copy

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if "outputs" in cell:
            cell.outputs = [
                o
                for o in cell.outputs
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
    return nb


def _metadata(name: str, study_path: Path, lang: str) -> dict[str, str]:
    from kureval import __version__

    return {
        "study": name,
        "built": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "fingerprint": fingerprint(study_path),
        "language": lang,
    }


def _write_index(out: Path, sections: list[Section], meta: dict[str, str], lang: str) -> None:
    rows = [
        ("report_study", meta["study"]),
        ("report_built", meta["built"]),
        ("report_version", f"kureval {meta['version']}"),
        ("report_language", t(f"language_{lang}", lang)),
        ("report_fingerprint", meta["fingerprint"]),
    ]
    table = "\n".join(
        f"<tr><th>{html.escape(t(k, lang))}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
    )
    links = "\n".join(
        f'<li><a href="{html.escape(s.stem)}.html">{html.escape(s.title)}</a></li>'
        for s in sections
    )
    body = (
        f"<h1>{html.escape(t('report_title', lang))}: {html.escape(meta['study'])}</h1>\n"
        f'<table class="kv-meta">\n{table}\n</table>\n'
        f'<h2>{html.escape(t("report_sections", lang))}</h2>\n<ol class="kv-sections">\n{links}\n</ol>\n'
        f'<p class="kv-note">{html.escape(t("report_fingerprint_note", lang))}</p>\n'
    )
    (out / "index.html").write_text(
        _page(f"{t('report_title', lang)}: {meta['study']}", body, meta), "utf-8"
    )


def _subdir(out_dir: str | Path, kind: str, name: str) -> Path:
    if not _NAME.match(name):
        raise ReportError(f"{kind[:-1]} name {name!r}: use letters, digits, '_', '-' and '.' only")
    out = Path(out_dir)
    folder = out / kind
    folder.mkdir(parents=True, exist_ok=True)
    if {p.name for p in out.iterdir()} <= {"figures", "tables"}:
        # a folder that holds only report output (a notebook run by hand): mark it, so
        # that a later build may replace it
        (out / MARKER).write_text("kureval report folder; replaced by the next build\n", "utf-8")
    return folder


# ---------------------------------------------------------------------------- scan


def _study_facts(study_path: Path) -> tuple[str, set[str], int]:
    """Study name, every person id (participants and register population), and the
    row count from which a table counts as row-level.

    Only the two tables holding ids are read, which is quick; when they have
    problems, the whole study is loaded so that one DataError lists them all
    before any notebook runs.
    """
    from kureval.study.config import load_config
    from kureval.study.io import find_table_file, read_table

    config = load_config(study_path)
    frames, problems = {}, []
    for table in ("participants", "population"):
        path, found = find_table_file(study_path, table, config.table(table))
        problems += found
        if path is not None:
            df, found = read_table(path, config.table(table), table)
            problems += found
            frames[table] = df
    if problems or frames.get("participants") is None:
        from kureval.api import load_study

        study = load_study(study_path)  # raises the full list of problems
        frames = {"participants": study.participants, "population": study.population}
    ids: set[str] = set()
    for df in frames.values():
        if df is not None and "person_id" in df:
            ids.update(df["person_id"].dropna().astype(str))
    participants = frames["participants"]
    if participants is None:  # pragma: no cover - load_study raised above
        raise ReportError("the participants table could not be read")
    return config.name, ids, _row_limit(participants)


def _row_limit(participants: pd.DataFrame) -> int:
    """Tables with at least this many rows count as row-level: the smallest programme's
    size, but never less than 20 rows."""
    sizes = participants["programme"].value_counts()
    return max(20, int(sizes.min())) if len(sizes) else 20


class _CallableModule(types.ModuleType):
    """``kureval.report.build(...)`` calls :func:`build` (DESIGN.md §5), while the module stays a
    module for imports and patching (``from kureval.report.build import save_table``)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Path:
        return build(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
