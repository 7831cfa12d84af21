"""The report build: notebooks → HTML, index, figures/tables, identifier scan (kureval.report.build).

Small builds use a tiny study and throw-away notebooks written to a temporary
folder; the demo report is built once per language per session
(:func:`demo_report`, shared with ``test_browser.py``) and its key numbers
checked against the demo generator's documented figures.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import io
import os
import re
import shutil
import sys
import tempfile
from functools import cache
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from kureval.report.build import (
    ReportError,
    build,
    fingerprint,
    report_main,
    save_figure,
    save_table,
    scan_output,
)

ROOT = Path(__file__).resolve().parents[1]
# The demo report runs every notebook in notebooks/; set KUREVAL_REPORT_NOTEBOOKS to another
# folder to check only some of them (e.g. while a new notebook is being written).
NOTEBOOKS = Path(os.environ.get("KUREVAL_REPORT_NOTEBOOKS", ROOT / "notebooks"))


# ------------------------------------------------------------------ fixtures


def write_tiny_study(folder: Path, n: int = 30) -> Path:
    """A valid study of ``n`` participants in two programmes with one EQ VAS answer at two time points."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.toml").write_text(
        '[study]\nname = "Tiny test study"\nlanguage = "en"\nmin_cell = 5\n\n'
        '[timepoints]\norder = ["start", "end"]\npre = "start"\npost = "end"\n\n[instruments.eqvas]\n',
        "utf-8",
    )
    people = pd.DataFrame(
        {
            "person_id": [f"TST{i:05d}" for i in range(n)],
            "programme": ["Alfa" if i < 18 else "Beta" for i in range(n)],
            "sex": ["M" if i % 3 == 0 else "F" for i in range(n)],
            "birth_year": [1960 + i for i in range(n)],
            "referral_date": "2023-01-10",
            "status": "completed",
            "start_date": "2023-02-01",
            "end_date": "2023-04-01",
        }
    )
    people.to_csv(folder / "participants.csv", index=False)
    resp = [
        {
            "person_id": f"TST{i:05d}",
            "timepoint": tp,
            "date": d,
            "instrument": "eqvas",
            "item": 1,
            "value": 50 + i,
        }
        for i in range(n)
        for tp, d in (("start", "2023-02-01"), ("end", "2023-04-01"))
    ]
    pd.DataFrame(resp).to_csv(folder / "responses.csv", index=False)
    return folder


def write_notebook(folder: Path, name: str, *sources: str, parameters: bool = True) -> Path:
    """A notebook whose code cells are ``sources`` (markdown when a source starts with 'MD:')."""
    cells = []
    if parameters:
        p = new_code_cell('study_path = "x"\nlang = "en"\nout_dir = "y"')
        p.metadata["tags"] = ["parameters"]
        cells.append(p)
    for src in sources:
        cells.append(new_markdown_cell(src[3:]) if src.startswith("MD:") else new_code_cell(src))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    nbformat.write(new_notebook(cells=cells), path)
    return path


GOOD_1 = (
    "import sys\n"
    "import pandas as pd\n"
    "import matplotlib.pyplot as plt\n"
    "from IPython.display import Markdown, display\n"
    "import kureval as kv\n"
    "from kureval.report.build import save_figure, save_table\n"
    'display(Markdown("# Counts in " + lang))\n'
    "study = kv.load_study(study_path)\n"
    'df = study.participants["programme"].value_counts().sort_index().rename_axis("programme").reset_index()\n'
    'save_table(df, "counts", out_dir)\n'
    "display(df)\n"
    "fig, ax = plt.subplots()\n"
    'ax.bar(df["programme"], df["count"])\n'
    'save_figure(fig, "counts", out_dir)\n'
    "plt.show()\n"
    'print("KERNEL-PYTHON", sys.executable)\n'
    'print("this goes to stderr", file=sys.stderr)'
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_tiny_study(tmp_path_factory.mktemp("tiny") / "study")


@pytest.fixture(scope="module")
def tiny_report(tiny, tmp_path_factory):
    nbs = tmp_path_factory.mktemp("nbs")
    write_notebook(nbs, "1.0-counts.ipynb", GOOD_1)
    write_notebook(nbs, "2.0-second.ipynb", "MD:Some text\n\n## not a title", "print('two')")
    hidden = write_notebook(
        nbs, "10.0-last.ipynb", "MD:# English only", "MD:# The last section", parameters=False
    )
    nb = nbformat.read(hidden, as_version=4)
    nb.cells[0].metadata["tags"] = ["remove-cell"]  # neither shown nor used as the title
    nb.cells.append(new_code_cell("print(6 * 7)"))
    nbformat.write(nb, hidden)
    out = tmp_path_factory.mktemp("out") / "report"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        index = build(tiny, out, lang="en", notebooks_dir=nbs)
    index.with_name("printed.txt").write_text(printed.getvalue(), "utf-8")  # read by a test below
    return index


# ------------------------------------------------------------------ tiny builds


def test_index_and_sections(tiny, tiny_report):
    out = tiny_report.parent
    html = tiny_report.read_text("utf-8")
    assert "Tiny test study" in html
    assert fingerprint(tiny) in html
    assert "kureval 0.1.0" in html
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", html)
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', html)
    # name order with numbers compared as numbers; titles from the first '# ' heading
    assert links == [
        ("1.0-counts.html", "Counts in en"),
        ("2.0-second.html", "2.0-second"),
        ("10.0-last.html", "The last section"),
    ]
    for href, _ in links:
        assert (out / href).is_file()
    assert not (out / "_executed").exists()
    assert not list(out.parent.glob(".report.partial-*"))  # staging folder removed


def test_pages_have_no_code_and_embed_images(tiny_report):
    page = (tiny_report.parent / "1.0-counts.html").read_text("utf-8")
    assert "save_table(" not in page and "import pandas" not in page  # no code cells
    assert "In&nbsp;[" not in page and "In [" not in page  # no prompts
    assert re.search(r'<img [^>]*src="data:image/png;base64,', page)
    assert "this goes to stderr" not in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert f"KERNEL-PYTHON {sys.executable}" in page  # the kernel runs this interpreter
    assert ">18<" in page and ">12<" in page
    last = (tiny_report.parent / "10.0-last.html").read_text("utf-8")
    assert "42" in last and "English only" not in last


def test_figures_and_tables_written(tiny_report):
    out = tiny_report.parent
    assert (out / "figures" / "counts.png").stat().st_size > 1000
    assert (out / "figures" / "counts.svg").read_text("utf-8").startswith("<?xml")
    table = pd.read_csv(out / "tables" / "counts.csv", encoding="utf-8-sig")
    assert table.to_dict("list") == {"programme": ["Alfa", "Beta"], "count": [18, 12]}


def test_progress_printed(tiny_report):
    printed = tiny_report.with_name("printed.txt").read_text("utf-8")
    assert printed.startswith("kureval report: Tiny test study (3 notebooks, language en)")
    assert re.search(r"\[1/3\] 1\.0-counts\.ipynb \.\.\. \d+\.\d s", printed)
    assert re.search(r"\[3/3\] 10\.0-last\.ipynb \.\.\. \d+\.\d s", printed)
    assert printed.rstrip().endswith(str(tiny_report))


def test_error_cell_names_notebook_cell_and_error(tiny, tmp_path):
    nbs = tmp_path / "nbs"
    write_notebook(nbs, "1.0-fine.ipynb", "MD:# Fine", "x = 1")
    # cells: 1 parameters, 2 markdown, 3 ok, 4 fails
    write_notebook(nbs, "2.0-broken.ipynb", "MD:# Broken", "y = 2", "z = 1 / 0  # boom")
    with pytest.raises(ReportError) as err:
        build(tiny, tmp_path / "out", notebooks_dir=nbs, verbose=False)
    msg = str(err.value)
    assert "2.0-broken.ipynb" in msg
    assert "cell 4 of 4" in msg
    assert "ZeroDivisionError" in msg and "division by zero" in msg
    assert "z = 1 / 0" in msg
    assert not (tmp_path / "out").exists()


def test_parallel_build_keeps_name_order_and_reports_first_failure(tiny, tmp_path):
    nbs = tmp_path / "nbs"
    write_notebook(nbs, "1.0-slow.ipynb", "MD:# Slow", "import time; time.sleep(1.5)")
    write_notebook(nbs, "2.0-fast.ipynb", "MD:# Fast", "x = 1")
    index = build(tiny, tmp_path / "out", notebooks_dir=nbs, jobs=2, verbose=False)
    links = re.findall(r'<a href="([^"]+)">', index.read_text("utf-8"))
    assert links == ["1.0-slow.html", "2.0-fast.html"]
    write_notebook(nbs, "3.0-bad.ipynb", "MD:# Bad", "raise RuntimeError('third')")
    write_notebook(nbs, "4.0-bad.ipynb", "MD:# Bad", "raise RuntimeError('fourth')")
    with pytest.raises(
        ReportError, match="3.0-bad.ipynb failed in cell 3 of 3: RuntimeError: third"
    ):
        build(tiny, tmp_path / "out2", notebooks_dir=nbs, jobs=2, verbose=False)


def test_error_without_parameters_cell(tiny, tmp_path):
    nbs = tmp_path / "nbs"
    write_notebook(nbs, "1.0-x.ipynb", "raise ValueError('bad thing')", parameters=False)
    with pytest.raises(
        ReportError, match=r"1\.0-x\.ipynb failed in cell 1 of 1: ValueError: bad thing"
    ):
        build(tiny, tmp_path / "out", notebooks_dir=nbs, verbose=False)


def test_planted_identifiers_fail_and_are_masked(tiny, tmp_path):
    nbs = tmp_path / "nbs"
    write_notebook(nbs, "1.0-leak.ipynb", "MD:# Leak", 'print("participant TST00007 did well")')
    write_notebook(nbs, "2.0-pnr.ipynb", "MD:# P", 'print("pnr 19121212-1212")')
    out = tmp_path / "out"
    with pytest.raises(ReportError) as err:
        build(tiny, out, notebooks_dir=nbs, verbose=False)
    msg = str(err.value)
    assert "1.0-leak.html: 1 person id(s) of the study (TS*****7)" in msg
    assert "2.0-pnr.html: 1 personnummer-like number(s) (19**********2)" in msg
    assert "TST00007" not in msg and "19121212-1212" not in msg
    assert not out.exists()  # nothing published
    assert not list(tmp_path.glob(".out.partial-*"))


def test_row_level_table_fails(tiny, tmp_path):
    nbs = tmp_path / "nbs"
    src = (
        "import kureval as kv\nfrom kureval.report.build import save_table\n"
        "p = kv.load_study(study_path).participants\n"
        'save_table(p[["programme", "sex", "birth_year"]], "people", out_dir)'
    )
    write_notebook(nbs, "1.0-rows.ipynb", "MD:# Rows", src)
    with pytest.raises(ReportError, match=r"tables/people\.csv: 30 rows"):
        build(tiny, tmp_path / "out", notebooks_dir=nbs, verbose=False)


def test_id_column_refused_by_save_table(tmp_path):
    with pytest.raises(ReportError, match="person-id column"):
        save_table(pd.DataFrame({"person_id": ["a"], "n": [1]}), "x", tmp_path)
    with pytest.raises(ReportError, match="letters, digits"):
        save_table(pd.DataFrame({"n": [1]}), "../escape", tmp_path)


def test_scan_output_finds_each_kind(tmp_path):
    (tmp_path / "tables").mkdir()
    (tmp_path / "a.html").write_text(
        "<p>KPR-00042</p><img src='data:image/png;base64,MTIxMjEyMTIxMg=='>", "utf-8"
    )
    (tmp_path / "tables" / "t.csv").write_text("person_id,n\nx,1\n", "utf-8")
    (tmp_path / "b.svg").write_text("<text>811218-9876</text>", "utf-8")
    (tmp_path / "c.png").write_bytes(b"KPR-00042")  # binary files are not read as text
    rows = "".join(f"<tr><td>{i}</td></tr>" for i in range(25))
    (tmp_path / "d.html").write_text(f"<table><tr><th>h</th></tr>{rows}</table>", "utf-8")
    found = scan_output(tmp_path, {"KPR-00042", "12"}, max_rows=20)
    text = "\n".join(found)
    assert "a.html: 1 person id(s) of the study (KP******2)" in text
    assert "tables/t.csv: a person-id column (person_id)" in text
    assert "b.svg: 1 personnummer-like number(s)" in text
    assert "d.html: HTML table 1 has 25 rows" in text
    assert "c.png" not in text
    assert len(found) == 4
    assert scan_output(tmp_path, set(), max_rows=100) != []  # personnummer and id column remain


def test_out_dir_with_other_content_is_refused(tiny, tmp_path):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.docx").write_text("mine", "utf-8")
    nbs = tmp_path / "nbs"
    write_notebook(nbs, "1.0-one.ipynb", "MD:# One")
    with pytest.raises(ReportError, match="not an earlier kureval report"):
        build(tiny, out, notebooks_dir=nbs, verbose=False)
    assert (out / "thesis.docx").exists()


def test_rebuild_replaces_earlier_report(tiny, tmp_path):
    nbs = tmp_path / "nbs"
    write_notebook(nbs, "1.0-one.ipynb", "MD:# One")
    out = tmp_path / "out"
    build(tiny, out, notebooks_dir=nbs, verbose=False)
    (out / "stale.html").write_text("old", "utf-8")
    write_notebook(nbs, "2.0-two.ipynb", "MD:# Two")
    build(tiny, out, notebooks_dir=nbs, verbose=False)
    assert not (out / "stale.html").exists()
    assert (out / "2.0-two.html").exists()


def test_report_main(tiny, tmp_path, capsys, monkeypatch):
    nbs = tmp_path / "nbs"
    write_notebook(nbs, "1.0-one.ipynb", "MD:# One")
    monkeypatch.chdir(tmp_path)
    args = argparse.Namespace(path=str(tiny), out=None, lang="sv", notebooks=str(nbs))
    assert report_main(args) == 0
    index = tmp_path / "reports" / "study" / "index.html"
    assert f"report written to {index}" in capsys.readouterr().out
    assert '<html lang="sv">' in index.read_text("utf-8")


def test_folder_written_by_a_notebook_run_by_hand_can_be_replaced(tiny, tmp_path):
    out = tmp_path / "out"
    save_table(pd.DataFrame({"n": [1]}), "t", out)  # as when a notebook runs in Jupyter
    nbs = tmp_path / "nbs"
    write_notebook(nbs, "1.0-one.ipynb", "MD:# One")
    build(tiny, out, notebooks_dir=nbs, verbose=False)
    assert not (out / "tables" / "t.csv").exists()
    assert (out / "1.0-one.html").exists()


def test_kv_report_build_is_callable():
    import kureval as kv
    import kureval.report.build as module

    assert (
        callable(kv.report.build) and kv.report.build is module
    )  # DESIGN §5: kv.report.build(...)
    assert module.build is build


def test_no_notebooks(tiny, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportError, match="no notebooks"):
        build(tiny, tmp_path / "out", notebooks_dir=tmp_path / "empty", verbose=False)


def test_fingerprint_depends_on_names_and_contents(tmp_path):
    a = write_tiny_study(tmp_path / "a")
    b = tmp_path / "b"
    shutil.copytree(a, b)
    assert fingerprint(a) == fingerprint(b)
    (b / ".DS_Store").write_text("ignored", "utf-8")
    assert fingerprint(a) == fingerprint(b)
    (b / "responses.csv").rename(b / "responses2.csv")
    assert fingerprint(a) != fingerprint(b)
    (b / "responses2.csv").rename(b / "responses.csv")
    with (b / "responses.csv").open("a", encoding="utf-8") as fh:
        fh.write("\n")
    assert fingerprint(a) != fingerprint(b)
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint(a))


def test_save_figure_is_deterministic(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def draw(out):
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3], [3, 1, 2], label="Kvinnor")
        ax.legend()
        paths = save_figure(fig, "fig", out)
        plt.close(fig)
        return [p.read_bytes() for p in paths]

    first, second = draw(tmp_path / "a"), draw(tmp_path / "b")
    assert first == second
    assert b"Kvinnor" in first[1]  # text stays text in the SVG, so the scan can read it


def test_save_table_index_and_columns(tmp_path):
    df = pd.DataFrame({("Alfa", "n"): [1, 2], ("Alfa", "%"): ["", "5,0"]}, index=["Kvinnor", "Män"])
    path = save_table(df, "t", tmp_path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM for Excel
    assert raw.decode("utf-8-sig").splitlines() == [
        ",Alfa | n,Alfa | %",
        "Kvinnor,1,",
        'Män,2,"5,0"',
    ]
    path = save_table(pd.DataFrame({"a": [1]}), "u", tmp_path)
    assert path.read_text("utf-8-sig").splitlines() == ["a", "1"]


# ------------------------------------------------------------------ the demo report


@cache
def demo_report(lang: str) -> Path:
    """Build the demo report (real notebooks) once per language per session; returns index.html."""
    from kureval.study.demo import generate

    demo = ROOT / "data" / "raw" / "demo"
    if not (demo / "study.toml").exists():
        generate(demo)
    tmp = Path(tempfile.mkdtemp(prefix=f"kureval-demo-{lang}-"))
    atexit.register(shutil.rmtree, tmp, True)
    return build(demo, tmp / "report", lang=lang, notebooks_dir=NOTEBOOKS, verbose=False)


@pytest.fixture(scope="module", params=["en", "sv"])
def demo_index(request) -> Path:
    return demo_report(request.param)


def test_demo_report_links_and_files(demo_index):
    out = demo_index.parent
    html = demo_index.read_text("utf-8")
    assert "kureval demo study (synthetic)" in html
    links = re.findall(r'<a href="([^"]+)">', html)
    notebooks = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert sorted(h.removesuffix(".html") for h in links) == notebooks
    for href in links:
        page = (out / href).read_text("utf-8")
        assert 'href="index.html"' in page
    assert list((out / "figures").glob("*.png")) and list((out / "figures").glob("*.svg"))
    assert len(list((out / "figures").glob("*.png"))) == len(list((out / "figures").glob("*.svg")))
    assert list((out / "tables").glob("*.csv"))


def test_demo_report_has_no_identifiers(demo_index):
    # the build already refused to publish otherwise; check again, independently of its settings
    demo = ROOT / "data" / "raw" / "demo"
    ids = set(pd.read_csv(demo / "participants.csv", dtype=str)["person_id"])
    ids |= set(pd.read_csv(demo / "register" / "population.csv", dtype=str)["person_id"])
    assert len(ids) > 30_000
    assert scan_output(demo_index.parent, ids, max_rows=118) == []


def test_demo_overview_key_numbers(demo_index):
    out = demo_index.parent
    lang = "sv" if 'lang="sv"' in demo_index.read_text("utf-8") else "en"
    page = (out / "1.0-study-overview.html").read_text("utf-8")
    counts = pd.read_csv(
        out / "tables" / "overview_programme_counts.csv", encoding="utf-8-sig", index_col=0
    )
    total = "Totalt" if lang == "sv" else "Total"
    # DESIGN §1: 187 referred to Kultur på recept, 118 in nature-based rehabilitation, 458 in Steg framåt
    assert counts.loc["Kultur på recept", total] == 187
    assert counts.loc["Naturunderstödd rehabilitering", total] == 118
    assert counts.loc["Steg framåt", total] == 458
    for n in ("187", "118", "458"):
        assert f">{n}<" in page
    heading = "Deltagare per program" if lang == "sv" else "Participants per programme"
    assert heading in page
    baseline = pd.read_csv(
        out / "tables" / "overview_baseline.csv", encoding="utf-8-sig", index_col=[0, 1]
    )
    women = "Kvinnor" if lang == "sv" else "Women"
    sex = "Kön" if lang == "sv" else "Sex"
    assert int(baseline.loc[(sex, women), "Steg framåt | n"]) == 254  # Skaraborg 2022: 254 women
    responses = pd.read_csv(
        out / "tables" / "overview_responses.csv", encoding="utf-8-sig", index_col=[0, 1]
    )
    assert (
        int(responses.loc[("Kultur på recept", "HADS"), "Start"]) == 123
    )  # 123 with start self-ratings


def test_demo_report_is_in_one_language(demo_index):
    page = (demo_index.parent / "1.0-study-overview.html").read_text("utf-8")
    if 'lang="sv"' in page:
        assert "Kännetecken vid remiss" in page and "Characteristics at referral" not in page
    else:
        assert "Characteristics at referral" in page and "Kännetecken vid remiss" not in page
