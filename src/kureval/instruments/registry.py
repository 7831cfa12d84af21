"""Which instruments exist, their scales, item ranges, options and metadata.

Scale metadata (:class:`ScaleInfo`) carries the range, the direction, and the
default minimal important change (MCID) and reliability that the self-rating
analyses use, each with its source.  Both can be overridden in study.toml::

    [instruments.hads]
    max_missing = 1                                  # instrument-specific option
    mcid = { hads_anxiety = 2.0 }                    # score units, per scale
    reliability = { hads_anxiety = 0.80, hads_depression = 0.78 }

Option keys per instrument are in :data:`OPTION_KEYS` and documented in
``docs/instruments.md``.  Validation of options and of response data lives in
:mod:`kureval.instruments.checks` (:func:`config_problems`,
:func:`response_problems` are re-exported here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from kureval.errors import ConfigError, Problem

__all__ = [
    "INSTRUMENTS",
    "OPTION_KEYS",
    "STANDARD_SCALES",
    "ScaleInfo",
    "band_label_key",
    "config_problems",
    "instrument_options",
    "instrument_scales",
    "item_range",
    "response_problems",
    "scale_info",
    "study_scales",
]


@dataclass(frozen=True)
class ScaleInfo:
    """Metadata of one scale.

    Attributes
    ----------
    name, instrument : str
        Scale name (``scores.scale``) and instrument code (``scores.instrument``).
    label_key : str
        Key of the display name in the label catalogues (``report.labels.t``).
    min, max : float
        Lowest and highest possible score (NaN when unknown, e.g. the EQ-5D
        index without a value set).
    higher_is_better : bool
        Direction: "improved" always means better, whatever the direction.
    mcid : float or None
        Minimal important change in score units (None: no published default;
        set one in study.toml to classify change by MCID).
    mcid_source : str
        Where ``mcid`` comes from.
    reliability : float or None
        Reliability coefficient for the reliable change index (None: no default).
    reliability_source : str
        Where ``reliability`` comes from and which coefficient it is.
    bands : tuple of str
        Band codes in order from lowest score (empty when the scale has none).
    label : str or None
        Display name declared in study.toml (generic scales); standard scales
        are labelled through ``label_key``.
    """

    name: str
    instrument: str
    label_key: str
    min: float
    max: float
    higher_is_better: bool
    mcid: float | None
    mcid_source: str
    reliability: float | None
    reliability_source: str
    bands: tuple[str, ...] = ()
    label: str | None = None


_NO_REL = "no published default: give the study's own coefficient in study.toml"
_PUHAN = (
    "Puhan MA et al. Health Qual Life Outcomes 2008;6:46 (COPD; anchor-based 1.41–1.57, "
    "distribution-based 1.32–1.40), doi:10.1186/1477-7525-6-46"
)
_BJELLAND = "Bjelland I et al. J Psychosom Res 2002;52:69–77, mean Cronbach's α across studies, doi:10.1016/S0022-3999(01)00296-3"

#: Standard scales: (instrument, min, max, higher_is_better, mcid, mcid source,
#: reliability, reliability source, bands).
STANDARD_SCALES: dict[str, ScaleInfo] = {
    s.name: s
    for s in [
        ScaleInfo(
            "hads_anxiety",
            "hads",
            "hads_anxiety",
            0,
            21,
            False,
            1.5,
            _PUHAN,
            0.83,
            _BJELLAND + " (HADS-A)",
            ("normal", "borderline", "case"),
        ),
        ScaleInfo(
            "hads_depression",
            "hads",
            "hads_depression",
            0,
            21,
            False,
            1.5,
            _PUHAN,
            0.82,
            _BJELLAND + " (HADS-D)",
            ("normal", "borderline", "case"),
        ),
        ScaleInfo(
            "eq5d_index",
            "eq5d",
            "eq5d_index",
            float("nan"),
            float("nan"),
            True,
            None,
            "depends on the value set: name it in study.toml",
            None,
            _NO_REL,
        ),
        ScaleInfo(
            "eq_vas",
            "eqvas",
            "eq_vas",
            0,
            100,
            True,
            7.0,
            "Pickard AS et al. Health Qual Life Outcomes 2007;5:70 (cancer; 7–10 points, lower end), "
            "doi:10.1186/1477-7525-5-70",
            None,
            _NO_REL,
        ),
        ScaleInfo(
            "who5",
            "who5",
            "who5",
            0,
            100,
            True,
            10.0,
            "Topp CW et al. Psychother Psychosom 2015;84:167–176 (10 points on 0–100, after Bech), "
            "doi:10.1159/000376585",
            None,
            _NO_REL,
            ("likely_depression", "poor", "adequate"),
        ),
        ScaleInfo(
            "swemwbs",
            "swemwbs",
            "swemwbs",
            7,
            35,
            True,
            2.87,
            "Shah N et al. Health Qual Life Outcomes 2018;16:239: 2.77 × SEM = 2.87 metric points "
            "(1 SEM = 1.03), doi:10.1186/s12955-018-1060-2",
            None,
            _NO_REL,
        ),
        ScaleInfo(
            "wemwbs",
            "wemwbs",
            "wemwbs",
            14,
            70,
            True,
            3.0,
            "Warwick Medical School WEMWBS FAQ: change of about 3 points is meaningful "
            "(Maheswaran H et al. Health Qual Life Outcomes 2012;10:156, doi:10.1186/1477-7525-10-156)",
            0.83,
            "Tennant R et al. Health Qual Life Outcomes 2007;5:63, test–retest (1 week), "
            "doi:10.1186/1477-7525-5-63",
        ),
        ScaleInfo(
            "srh",
            "srh",
            "srh",
            1,
            5,
            False,
            1.0,
            "no published MCID: one response category (the scale's unit)",
            None,
            _NO_REL,
            ("very_good", "good", "fair", "bad", "very_bad"),
        ),
        ScaleInfo(
            "srh_good",
            "srh",
            "srh_good",
            0,
            1,
            True,
            None,
            "binary indicator: no MCID",
            None,
            _NO_REL,
        ),
        ScaleInfo(
            "was",
            "was",
            "was",
            0,
            10,
            True,
            None,
            "no published MCID found",
            0.89,
            "Stienstra M et al., Measurement properties of the Work Ability Score in sick-listed workers "
            "with chronic musculoskeletal pain: test–retest ICC 0.89 (n = 34), "
            "https://research.rug.nl/nl/publications/measurement-properties-of-the-work-ability-score-in-sick-listed-w",
            ("poor", "moderate", "good"),
        ),
        ScaleInfo(
            "ucla3", "ucla3", "ucla3", 3, 9, False, None, "no published MCID found", None, _NO_REL
        ),
        ScaleInfo(
            "k6",
            "k6",
            "k6",
            0,
            24,
            False,
            None,
            "no published MCID found",
            None,
            _NO_REL,
            ("low", "moderate", "serious"),
        ),
        ScaleInfo(
            "pain",
            "pain",
            "pain",
            0,
            10,
            False,
            2.0,
            "Farrar JT et al. Pain 2001;94:149–158 (about 2 points or 30 %), doi:10.1016/S0304-3959(01)00349-9",
            None,
            _NO_REL,
        ),
    ]
}


@dataclass(frozen=True)
class InstrumentSpec:
    """A standard instrument: items 1..n_items, answers item_min..item_max (integers)."""

    code: str
    n_items: int
    item_min: int
    item_max: int
    scales: tuple[str, ...]
    options: tuple[str, ...]


_COMMON = ("mcid", "reliability")
INSTRUMENTS: dict[str, InstrumentSpec] = {
    s.code: s
    for s in [
        InstrumentSpec(
            "hads",
            14,
            0,
            3,
            ("hads_anxiety", "hads_depression"),
            (*_COMMON, "max_missing", "case_threshold"),
        ),
        InstrumentSpec("eq5d", 5, 1, 5, ("eq5d_index",), (*_COMMON, "version", "value_set")),
        InstrumentSpec("eqvas", 1, 0, 100, ("eq_vas",), _COMMON),
        InstrumentSpec("who5", 5, 0, 5, ("who5",), (*_COMMON, "max_missing")),
        InstrumentSpec("swemwbs", 7, 1, 5, ("swemwbs",), (*_COMMON, "max_missing")),
        InstrumentSpec(
            "wemwbs", 14, 1, 5, ("wemwbs",), (*_COMMON, "max_missing", "derive_swemwbs")
        ),
        InstrumentSpec("srh", 1, 1, 5, ("srh", "srh_good"), _COMMON),
        InstrumentSpec("was", 1, 0, 10, ("was",), _COMMON),
        InstrumentSpec("ucla3", 3, 1, 3, ("ucla3",), (*_COMMON, "max_missing", "case_threshold")),
        InstrumentSpec("k6", 6, 0, 4, ("k6",), (*_COMMON, "max_missing", "case_threshold")),
        InstrumentSpec("pain", 1, 0, 10, ("pain",), _COMMON),
    ]
}
#: Allowed option keys per standard instrument code (generic scales: ``generic.OPTION_KEYS``).
OPTION_KEYS: dict[str, tuple[str, ...]] = {code: s.options for code, s in INSTRUMENTS.items()}


def is_generic(options: Mapping[str, Any]) -> bool:
    """True when an instrument's options declare ``type = "generic"``."""
    return options.get("type") == "generic"


def instrument_options(config: Any) -> dict[str, Mapping[str, Any]]:
    """``{code: options}`` from a StudyConfig, a Study, or a plain mapping.

    Accepts ``config.instruments`` values that are ``InstrumentConfig``
    objects (with ``.options``) or plain mappings.
    """
    if hasattr(config, "config") and hasattr(config, "responses"):
        config = config.config
    instruments = getattr(config, "instruments", config) or {}
    return {code: getattr(cfg, "options", cfg) or {} for code, cfg in instruments.items()}


def instrument_scales(code: str, options: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """Scale names instrument ``code`` produces under ``options``.

    >>> instrument_scales("hads")
    ('hads_anxiety', 'hads_depression')
    >>> instrument_scales("wemwbs", {"derive_swemwbs": True})
    ('wemwbs', 'swemwbs')
    """
    options = options or {}
    if is_generic(options):
        return (code,)
    if code not in INSTRUMENTS:
        raise ConfigError(
            Problem(
                None,
                None,
                "instrument",
                code,
                "a known instrument (" + ", ".join(INSTRUMENTS) + ') or type = "generic"',
            )
        )
    scales = INSTRUMENTS[code].scales
    if code == "wemwbs" and options.get("derive_swemwbs"):
        scales = (*scales, "swemwbs")
    return scales


def item_range(
    code: str, options: Mapping[str, Any] | None = None
) -> tuple[int, float, float, bool]:
    """``(n_items, min, max, integer)`` of instrument ``code`` (EQ-5D by version)."""
    options = options or {}
    if is_generic(options):
        return (
            int(options["items"]),
            float(options["min"]),
            float(options["max"]),
            bool(options.get("integer", True)),
        )
    spec = INSTRUMENTS[code]
    hi = float(spec.item_max)
    if code == "eq5d":
        from kureval.instruments.eq5d import LEVELS, VALUE_SETS

        version = options.get("version") or VALUE_SETS.get(options.get("value_set", ""), "5L")
        hi = float(LEVELS.get(version, 5))
    return spec.n_items, float(spec.item_min), hi, True


def _owner(
    scale: str, all_options: Mapping[str, Mapping[str, Any]]
) -> tuple[str, Mapping[str, Any]] | None:
    for code, opts in all_options.items():
        try:
            if scale in instrument_scales(code, opts):
                if scale == "swemwbs" and code == "wemwbs" and "swemwbs" in all_options:
                    continue
                return code, opts
        except ConfigError:
            continue
    return None


def scale_info(scale: str, options: Any = None) -> ScaleInfo:
    """Metadata of a scale, with study.toml overrides applied.

    Parameters
    ----------
    scale : str
        Scale name, e.g. ``"hads_anxiety"`` or a generic scale's name.
    options : mapping, StudyConfig or Study, optional
        Either the options of the scale's instrument (the ``[instruments.<code>]``
        table as a mapping) or a whole StudyConfig / Study, in which case the
        instrument producing ``scale`` is looked up.  Needed for generic scales
        and for the EQ-5D index (range and default MCID depend on the value set).

    Examples
    --------
    >>> info = scale_info("hads_anxiety", {"mcid": {"hads_anxiety": 2.0}})
    >>> info.mcid, info.mcid_source, info.higher_is_better
    (2.0, 'study.toml [instruments.hads] mcid', False)
    >>> round(scale_info("eq5d_index", {"value_set": "SE_5L_Sun2022"}).mcid, 4)
    0.0657
    """
    opts: Mapping[str, Any] = {}
    owner = None
    if options is not None and (hasattr(options, "instruments") or hasattr(options, "responses")):
        found = _owner(scale, instrument_options(options))
        owner = found[0] if found else None
        if found is None and scale not in STANDARD_SCALES:
            raise ConfigError(
                Problem(
                    None, None, "scale", scale, "a scale of an instrument declared in study.toml"
                )
            )
        opts = found[1] if found else {}
    elif options is not None:
        opts = options
    if is_generic(opts):
        return _generic_info(scale, opts)
    if scale not in STANDARD_SCALES:
        raise ConfigError(
            Problem(
                None,
                None,
                "scale",
                scale,
                "a standard scale (" + ", ".join(STANDARD_SCALES) + ") or a declared generic scale",
            )
        )
    info = STANDARD_SCALES[scale]
    if scale == "eq5d_index" and opts.get("value_set") is not None:
        info = _eq5d_info(info, opts["value_set"])
    return _overrides(info, opts, owner or info.instrument)


def _eq5d_info(info: ScaleInfo, value_set: str) -> ScaleInfo:
    from kureval.instruments import eq5d

    if value_set not in eq5d.VALUE_SETS:
        return info
    table = eq5d.state_table(value_set)
    mid = eq5d.instrument_defined_mid(value_set)
    method = (
        "Luo et al. 2010 (level 1↔2 transitions)"
        if eq5d.VALUE_SETS[value_set] == "3L"
        else "McClure et al. 2017 (all one-level transitions)"
    )
    return replace(
        info,
        min=float(table.min()),
        max=float(table.max()),
        mcid=mid,
        mcid_source=f"instrument-defined MID of {value_set}, computed by the method of {method}",
    )


def _overrides(info: ScaleInfo, opts: Mapping[str, Any], code: str) -> ScaleInfo:
    mcid, rel = opts.get("mcid"), opts.get("reliability")
    if isinstance(mcid, Mapping) and info.name in mcid:
        info = replace(
            info, mcid=float(mcid[info.name]), mcid_source=f"study.toml [instruments.{code}] mcid"
        )
    if isinstance(rel, Mapping) and info.name in rel:
        info = replace(
            info,
            reliability=float(rel[info.name]),
            reliability_source=f"study.toml [instruments.{code}] reliability",
        )
    return info


def _generic_info(scale: str, opts: Mapping[str, Any]) -> ScaleInfo:
    from kureval.instruments.generic import spec_from_options

    spec = spec_from_options(scale, opts)
    lo, hi = spec.score_range
    src = f"study.toml [instruments.{scale}]"
    return ScaleInfo(
        name=scale,
        instrument=scale,
        label_key=scale,
        min=float(lo),
        max=float(hi),
        higher_is_better=spec.higher_is_better,
        mcid=spec.mcid,
        mcid_source=f"{src} mcid" if spec.mcid is not None else "not declared",
        reliability=spec.reliability,
        reliability_source=f"{src} reliability" if spec.reliability is not None else "not declared",
        label=spec.label or scale,
    )


def band_label_key(info: ScaleInfo, band: str) -> str:
    """Catalogue key of a band label, ``band_<instrument>_<band>``.

    >>> band_label_key(scale_info("hads_anxiety"), "case")
    'band_hads_case'
    """
    return f"band_{info.instrument}_{band}"


def study_scales(config: Any) -> dict[str, ScaleInfo]:
    """Metadata of every scale the declared instruments produce (StudyConfig or Study)."""
    out: dict[str, ScaleInfo] = {}
    for code, opts in instrument_options(config).items():
        for scale in instrument_scales(code, opts):
            out.setdefault(scale, scale_info(scale, config))
    return out


def config_problems(config: Any) -> list[Problem]:
    """Every problem with the ``[instruments.*]`` tables of a StudyConfig (or mapping)."""
    from kureval.instruments.checks import config_problems as impl

    return impl(config)


def response_problems(study: Any, *, table_checks: bool = False) -> list[Problem]:
    """Every problem with ``study.responses`` against the declared instruments, plus
    config problems (see :func:`kureval.instruments.checks.response_problems`)."""
    from kureval.instruments.checks import response_problems as impl

    return impl(study, table_checks=table_checks)
