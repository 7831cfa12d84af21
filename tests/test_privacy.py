"""Small-cell suppression and identifier detection (kureval.report.privacy)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import null_space

from kureval.errors import ConfigError
from kureval.report.privacy import (
    SECONDARY_MARK,
    find_identifiers,
    looks_like_personnummer,
    mask,
    personnummer_candidates,
    scan_output,
    scannable_ids,
    suppress_counts,
)


def _with_totals(grid: np.ndarray, row_total: bool, col_total: bool) -> pd.DataFrame:
    cols = [f"c{j}" for j in range(grid.shape[1])]
    df = pd.DataFrame(grid, columns=cols, index=[f"r{i}" for i in range(grid.shape[0])])
    if row_total:
        df["Total"] = df[cols].sum(axis=1)
    if col_total:
        df.loc["Total"] = df.sum(axis=0)
    return df


def _hidden(out: pd.DataFrame, cols) -> pd.DataFrame:
    return out[cols].map(lambda v: isinstance(v, str))


def _equations(df, cols, row_total, col_total):
    """Every (cells) line: total cell first, then parts, as (row label, column) pairs."""
    eqs = []
    parts = [c for c in cols if c != "Total"]
    rows = [r for r in df.index if r != "Total"]
    if row_total:
        for r in df.index:
            eqs.append([(r, "Total")] + [(r, c) for c in parts])
    if col_total:
        for c in cols:
            eqs.append([("Total", c)] + [(r, c) for r in rows])
    return eqs


def _determined_cells(df, hidden, eqs) -> list:
    """Hidden cells fixed by the equations: zero in every null-space vector (independent of the
    implementation, which uses matrix ranks)."""
    unknowns = [(r, c) for r in df.index for c in hidden.columns if hidden.at[r, c]]
    if not unknowns or not eqs:
        return []
    pos = {u: k for k, u in enumerate(unknowns)}
    a = []
    for eq in eqs:
        row = np.zeros(len(unknowns))
        for k, cell in enumerate(eq):
            if cell in pos:
                row[pos[cell]] += 1.0 if k == 0 else -1.0
        if row.any():
            a.append(row)
    if not a:
        return []
    ns = null_space(np.vstack(a))
    return [u for u, k in pos.items() if ns.shape[1] == 0 or np.allclose(ns[k], 0, atol=1e-9)]


counts = st.integers(0, 40) | st.integers(0, 6)


@st.composite
def tables(draw):
    nr, nc = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    grid = np.array(
        draw(st.lists(st.lists(counts, min_size=nc, max_size=nc), min_size=nr, max_size=nr))
    )
    return grid, draw(st.booleans()), draw(st.booleans()), draw(st.integers(2, 11))


@settings(max_examples=200, deadline=None)
@given(tables(), st.booleans())
def test_no_small_count_visible_and_nothing_recoverable(spec, show_zero):
    grid, row_total, col_total, min_cell = spec
    df = _with_totals(grid, row_total, col_total)
    before = df.copy()
    parts = [c for c in df.columns if c != "Total"]
    out = suppress_counts(
        df,
        parts,
        min_cell=min_cell,
        total_cols="Total" if row_total else None,
        total_rows="Total" if col_total else None,
        show_zero=show_zero,
    )
    pd.testing.assert_frame_equal(df, before)  # input untouched
    cols = list(df.columns)
    hidden = _hidden(out, cols)
    for r in df.index:
        for c in cols:
            v, shown = df.at[r, c], out.at[r, c]
            if isinstance(shown, str):
                assert shown in (f"<{min_cell}", SECONDARY_MARK)
                assert (shown == f"<{min_cell}") == (0 < v < min_cell or (v == 0 and not show_zero))
            else:
                assert shown == v  # visible values are the true values
                assert v == 0 and show_zero or v >= min_cell
    eqs = _equations(df, cols, row_total, col_total)
    for eq in eqs:  # no single-line subtraction recovers a hidden cell
        assert sum(hidden.at[cell] for cell in eq) != 1
    assert _determined_cells(df, hidden, eqs) == []  # nor any combination of lines


def test_worked_example_two_by_two():
    t = pd.DataFrame(
        {"F": [3, 20, 23], "M": [10, 12, 22], "Total": [13, 32, 45]}, index=["a", "b", "Total"]
    )
    out = suppress_counts(t, ["F", "M"], total_cols="Total", total_rows="Total")
    assert out.loc["a"].tolist() == ["<5", "..", 13]
    assert out.loc["b"].tolist() == ["..", "..", 32]
    assert out.loc["Total"].tolist() == [23, 22, 45]
    assert out.dtypes.eq(object).all()


def test_no_totals_means_primary_only():
    t = pd.DataFrame({"n": [0, 1, 4, 5, 100]})
    out = suppress_counts(t, ["n"])
    assert out["n"].tolist() == [0, "<5", "<5", 5, 100]
    assert suppress_counts(t, ["n"], show_zero=False)["n"].tolist() == ["<5", "<5", "<5", 5, 100]
    assert suppress_counts(t, ["n"], min_cell=3)["n"].tolist() == [0, "<3", 4, 5, 100]


def test_percentages_blanked_with_their_counts():
    t = pd.DataFrame(
        {"n": [3, 40, 57], "pct": [3.0, 40.0, 57.0], "N": [100, 100, 100], "label": ["x", "y", "z"]}
    )
    out = suppress_counts(t, ["n"], pct_cols={"pct": "n"})
    assert out["pct"].tolist() == ["", 40.0, 57.0]
    assert out["label"].tolist() == ["x", "y", "z"]
    assert out["N"].tolist() == [100, 100, 100]  # not a count column: passed through


def test_percentage_blanked_when_denominator_hidden():
    t = pd.DataFrame({"a": [6, 10], "b": [3, 10], "tot": [9, 20], "pct_a": [66.7, 50.0]})
    out = suppress_counts(t, ["a", "b"], total_cols="tot", pct_cols={"pct_a": ("a", "tot")})
    assert out.loc[0, "b"] == "<5" and out.loc[0, "a"] == SECONDARY_MARK
    assert out.loc[0, "pct_a"] == ""
    assert out.loc[1, "pct_a"] == 50.0


def test_secondary_never_picks_zero_and_falls_back_to_total():
    # row: one small cell, the others are zero -> hiding a zero would give nothing away-proof;
    # the total (= the small cell) must be hidden instead
    t = pd.DataFrame({"a": [2], "b": [0], "c": [0], "tot": [2]})
    out = suppress_counts(t, ["a", "b", "c"], total_cols="tot")
    assert out.loc[0].tolist() == ["<5", 0, 0, "<5"]  # the total is itself small
    t = pd.DataFrame({"a": [2, 30], "b": [0, 30], "tot": [2, 60]})
    t.loc["sum"] = t.sum()
    out = suppress_counts(t, ["a", "b"], total_cols="tot", total_rows="sum")
    hidden = _hidden(out, ["a", "b", "tot"])
    for col in ["a", "b", "tot"]:
        assert hidden[col].sum() != 1
    assert out.loc[0, "b"] == 0


def test_missing_counts_are_blank():
    t = pd.DataFrame({"n": pd.array([7, None, 2], dtype="Int64")})
    assert suppress_counts(t, ["n"])["n"].tolist() == [7, "", "<5"]


def test_bad_input_lists_every_problem():
    t = pd.DataFrame({"n": [1.5, -2, 3], "m": ["x", 1, 2]})
    with pytest.raises(ConfigError) as err:
        suppress_counts(t, ["n", "m", "zz"], min_cell=0)
    msg = str(err.value)
    for needle in ["'zz'", "min_cell", "1.5", "-2", "'x'"]:
        assert needle in msg
    assert len(err.value.problems) == 5


def test_inconsistent_totals_rejected():
    t = pd.DataFrame({"a": [1, 10], "b": [9, 10], "tot": [10, 21]})
    with pytest.raises(ConfigError, match="totals do not add up"):
        suppress_counts(t, ["a", "b"], total_cols="tot")


def test_mapping_totals():
    t = pd.DataFrame({"F1": [2, 8], "F2": [9, 9], "F": [11, 17], "M": [20, 20]})
    out = suppress_counts(t, ["F1", "F2", "M"], total_cols={"F": ["F1", "F2"]})
    assert out.loc[0].tolist() == ["<5", "..", 11, 20]
    assert out.loc[1].tolist() == [8, 9, 17, 20]


# ------------------------------------------------------------------ identifiers


@pytest.mark.parametrize(
    "text",
    [
        "19121212-1212",
        "121212-1212",
        "1212121212",
        "191212121212",
        "121212+1212",
        "811218-9876",
        "19811278-9873",
    ],  # last: coordination number (day + 60)
)
def test_personnummer_detected(text):
    assert looks_like_personnummer(text)
    assert personnummer_candidates(f"<td>{text}</td>") == [text]


@pytest.mark.parametrize(
    "text",
    [
        "121212-1213",
        "19121312-1212",
        "1732291200",
        "2023-10-15",
        "12345",
        "A121212-1212",
        "3.1212121212",
    ],
)
def test_not_personnummer(text):
    assert not looks_like_personnummer(text)
    assert personnummer_candidates(text) == []


def test_find_identifiers_ignores_hyphenated_codes_and_dois(tmp_path):
    ids = {"S0022", "K0042"}
    assert find_identifiers("doi:10.1016/S0022-3999(01)00296-3", ids) == []
    assert find_identifiers("figure K0042.png and x_K0042", ids) == ["K0042"]
    (tmp_path / "a.html").write_text("<p>(doi:10.1016/S0022.3999)</p>", "utf-8")
    (tmp_path / "K0042.svg").write_text("<svg/>", "utf-8")
    assert scan_output(tmp_path, ids) == ["K0042.svg: 1 person id(s) of the study (K0**2)"]


def test_find_identifiers_whole_tokens_only():
    ids = {"KPR0042", "P-00017", "000123"}
    text = "row KPR0042; x KPR00420 y P-00017 <td>000123</td> 1000123 Q-000123"
    assert find_identifiers(text, ids) == ["KPR0042", "P-00017", "000123"]
    assert find_identifiers("KPR00420 1000123 p-00017", ids) == []


def test_scannable_ids_skip_short_numbers():
    good, skipped = scannable_ids(["1", "187", "12345", "123456", "KPR01", "ab"])
    assert good == {"123456", "KPR01"}
    assert skipped == 4


def test_mask_hides_most_of_identifier():
    assert mask("19121212-1212") == "19**********2"
    assert "1212-12" not in mask("19121212-1212")
    assert mask("abc") == "***"


def test_total_row_with_several_decompositions():
    # group sizes (row "n") are the sum of the sex block and of the age block
    t = pd.DataFrame(
        {"A": [30, 27, 3, 10, 20], "B": [40, 20, 20, 2, 38]},
        index=["n", "F", "M", "young", "old"],
    )
    t["Total"] = t["A"] + t["B"]
    out = suppress_counts(
        t, ["A", "B"], total_cols="Total", total_rows={"n": [["F", "M"], ["young", "old"]]}
    )
    hidden = _hidden(out, ["A", "B", "Total"])
    for block in (["F", "M"], ["young", "old"]):
        for col in ["A", "B", "Total"]:
            assert hidden.loc[["n", *block], col].sum() != 1
    for r in t.index:
        assert hidden.loc[r].sum() != 1
    assert out.loc["n"].tolist() == [30, 40, 70]


# ------------------------------------------------------------------ presentation tables


def _participants(seed: int = 3, n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "person_id": [f"P{i:04d}" for i in range(n)],
            "programme": rng.choice(["Alfa", "Beta", "Gamma"], n, p=[0.5, 0.45, 0.05]),
            "sex": rng.choice(["F", "M", "X"], n, p=[0.6, 0.38, 0.02]),
            "birth_year": pd.array(rng.integers(1950, 2000, n), dtype="Int64"),
            "referral_date": pd.to_datetime("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 700, n), "D"),
            "provision_at_start": rng.choice(["sickness_benefit", "none", None], n),
            "referrer": rng.choice(["vårdcentral", "psykiatri"], n),
            "status": rng.choice(["completed", "dropped_out", "referred"], n, p=[0.6, 0.35, 0.05]),
        }
    )


def test_baseline_table_counts_and_suppression():
    from kureval.report.tables import baseline_table

    p = _participants()
    table = baseline_table(p, lang="en", min_cell=5)
    groups = list(pd.unique(p["programme"]))
    expected = pd.crosstab(p["sex"], p["programme"])  # independent count
    for g in groups:
        assert table.loc[("Participants", ""), (g, "n")] in (
            (p["programme"] == g).sum(),
            "<5",
            "..",
        )
        for code, label in (("F", "Women"), ("M", "Men")):
            shown = table.loc[("Sex", label), (g, "n")]
            true = int(expected.loc[code, g]) if code in expected.index else 0
            if isinstance(shown, str):
                assert shown == ".." or (shown == "<5" and 0 < true < 5)
            else:
                assert shown == true
                pct = table.loc[("Sex", label), (g, "%")]
                assert pct == f"{100 * true / (p['programme'] == g).sum():.1f}"
    # no characteristic's column has exactly one hidden cell beside a visible group size
    n_cols = [c for c in table.columns if c[1] == "n"]
    for var in ["Sex", "Age at referral (years)", "Provision at start", "Referred by"]:
        block = table.loc[var, n_cols]
        for col in n_cols:
            if not isinstance(table.loc[("Participants", ""), col], str):
                assert block[col].map(lambda v: isinstance(v, str)).sum() != 1, (var, col)
    age = (p["referral_date"].dt.year - p["birth_year"]).astype(float)
    a = age[p["programme"] == "Alfa"]
    assert table.loc[("Age at referral, mean (SD)", ""), ("Alfa", "n")] == (
        f"{a.mean():.1f} ({a.std(ddof=1):.1f})"
    )


def test_baseline_table_in_swedish_uses_decimal_comma():
    from kureval.report.tables import baseline_table

    table = baseline_table(_participants(), lang="sv")
    assert ("Kön", "Kvinnor") in table.index
    assert ("Försörjning vid start", "Uppgift saknas") in table.index
    pct = [v for v in table[("Totalt", "%")] if v]
    assert pct and all("," in v and "." not in v for v in pct)


def test_programme_counts_totals():
    from kureval.report.tables import programme_counts

    p = _participants()
    out = programme_counts(p, lang="en")
    assert out.loc["Total", "Total"] == len(p)
    true = pd.crosstab(p["programme"], p["status"], margins=True, margins_name="Total")
    labels = {
        "completed": "Completed",
        "dropped_out": "Dropped out",
        "referred": "Referred, not started",
    }
    visible = 0
    for prog in ["Alfa", "Beta", "Gamma", "Total"]:
        for code, label in [*labels.items(), ("Total", "Total")]:
            shown = out.loc[prog, label]
            if not isinstance(shown, str):
                assert shown == true.loc[prog, code]
                visible += 1
            else:
                assert shown == ".." or 0 < true.loc[prog, code] < 5
    assert visible >= 8


def test_format_number():
    from kureval.report.tables import format_number

    assert format_number(1234567.891, 2, "en") == "1,234,567.89"
    assert format_number(1234567.891, 2, "sv") == "1\u00a0234\u00a0567,89"
    assert format_number(float("nan")) == "" and format_number(None) == ""
    assert format_number("<5") == "<5"
    assert format_number(-2.25, 1, "sv") == "-2,2"  # round half to even, as Python formats


def test_programme_counts_start_date_column_is_protected():
    from kureval.report.tables import programme_counts

    p = pd.DataFrame(
        {
            "programme": ["A"] * 40 + ["B"] * 30,
            "status": ["referred"] * 3
            + ["completed"] * 37
            + ["referred"] * 10
            + ["completed"] * 20,
        }
    )
    p["start_date"] = pd.to_datetime(np.where(p["status"] == "referred", None, "2020-01-01"))
    out = programme_counts(p, lang="en")
    assert out.loc["A", "Referred, not started"] == "<5"
    # total − with start date would give the hidden count: one of them must be hidden too
    row = out.loc["A", ["Referred, not started", "Completed", "Total", "With start date"]]
    assert sum(isinstance(v, str) for v in row) >= 2
    assert not (
        isinstance(out.loc["A", "Total"], int) and isinstance(out.loc["A", "With start date"], int)
    )
    p.loc[0, "start_date"] = pd.Timestamp("2020-01-01")  # inconsistent: column left out
    assert "With start date" not in programme_counts(p, lang="en").columns
