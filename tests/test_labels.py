"""Label catalogues: every label the report shows exists in English and Swedish.

The notebooks, the report frame (kureval.report.build) and the presentation
tables (kureval.report.tables) look labels up with ``t("key", lang)``; a key
missing from the catalogues would only fail when that line runs, so the keys
are collected from the source text here and checked all at once.
"""

from __future__ import annotations

import json
import re
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from kureval.errors import ConfigError
from kureval.report.labels import LANGUAGES, catalogue, check_lang, has, t

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "kureval"
KEY = re.compile(r"""\bt\(\s*["']([A-Za-z0-9_]+)["']\s*[,)]""")  # whole literal keys only


def _keys_in(text: str) -> set[str]:
    return set(KEY.findall(text))


def _notebook_code(path: Path) -> str:
    nb = json.loads(path.read_text("utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


SOURCES = sorted(SRC.rglob("*.py")) + sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_literal_label_key_exists(path):
    text = _notebook_code(path) if path.suffix == ".ipynb" else path.read_text("utf-8")
    missing = sorted(k for k in _keys_in(text) if not has(k))
    assert missing == [], f"{path.name} uses labels missing from the catalogues: {missing}"


def test_catalogues_are_complete_and_consistent():
    labels = catalogue()  # raises ConfigError on a duplicate key or a missing language
    assert len(labels) > 50
    for key, texts in labels.items():
        for lang in LANGUAGES:
            assert texts[lang].strip(), f"{key!r} has an empty {lang} text"


@pytest.mark.parametrize("name", ["overview.toml", "report.toml"])
def test_own_catalogues_have_en_and_sv_only(name):
    data = tomllib.loads(
        (resources.files("kureval.report") / "catalogues" / name).read_text("utf-8")
    )
    for key, texts in data.items():
        assert set(texts) == {"en", "sv"}, key
    prefix = (
        "overview_" if name == "overview.toml" else ("report_", "language_", "secondary_", "zero_")
    )
    assert all(k.startswith(prefix) for k in data), "keys are prefixed by topic to avoid clashes"


def test_formatting_and_errors():
    assert t("suppressed_note", "en", min_cell=5).startswith("Counts below 5")
    assert t("overview_h_counts", "sv") == "Deltagare per program"
    with pytest.raises(KeyError, match="no label 'no_such_key'"):
        t("no_such_key", "en")
    with pytest.raises(ConfigError, match="language 'de'"):
        check_lang("de")


def test_swedish_and_english_frames_differ():
    frame = [k for k in catalogue() if k.startswith(("report_", "overview_h_"))]
    assert frame
    same = [k for k in frame if t(k, "en") == t(k, "sv")]
    assert same == [], f"untranslated frame labels: {same}"
