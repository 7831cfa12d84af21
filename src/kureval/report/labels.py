"""English and Swedish labels for everything the report shows.

Catalogues are TOML files in ``kureval/report/catalogues/``, one per report
topic, each key a table with an ``en`` and an ``sv`` string::

    [hads_anxiety]
    en = "HADS anxiety"
    sv = "HADS ångest"

A key may appear in only one catalogue; a key missing a language, or a lookup
of an unknown key, is an error, so an untranslated label can never reach a
report silently.  ``t(key, lang, **fmt)`` formats with ``str.format``.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

from kureval.errors import ConfigError, Problem

LANGUAGES = ("en", "sv")

__all__ = ["LANGUAGES", "catalogue", "check_lang", "has", "t"]


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is a supported report language, else raise ConfigError."""
    if lang not in LANGUAGES:
        raise ConfigError(
            f"language {lang!r} is not supported; expected one of {', '.join(LANGUAGES)}"
        )
    return lang


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """All labels, merged from every catalogue file: key → {lang: text}."""
    merged: dict[str, dict[str, str]] = {}
    origin: dict[str, str] = {}
    problems: list[str] = []
    folder = resources.files("kureval.report") / "catalogues"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        for key, texts in data.items():
            if key in merged:
                problems.append(f"label {key!r} is defined in both {origin[key]} and {entry.name}")
                continue
            if not isinstance(texts, dict) or any(lang not in texts for lang in LANGUAGES):
                problems.append(f"label {key!r} in {entry.name} needs both 'en' and 'sv'")
                continue
            merged[key] = {lang: str(texts[lang]) for lang in LANGUAGES}
            origin[key] = entry.name
    if problems:
        raise ConfigError([_p(p) for p in problems], title="label catalogues are inconsistent")
    return merged


def _p(text: str) -> Problem:
    return Problem("kureval/report/catalogues", None, None, None, text)


def has(key: str) -> bool:
    """Whether ``key`` is in the catalogues."""
    return key in catalogue()


def t(key: str, lang: str = "en", **fmt: object) -> str:
    """The label for ``key`` in ``lang``, formatted with ``fmt``."""
    check_lang(lang)
    try:
        text = catalogue()[key][lang]
    except KeyError:
        raise KeyError(
            f"no label {key!r} in the catalogues (kureval/report/catalogues/*.toml)"
        ) from None
    return text.format(**fmt) if fmt else text
