"""The methods paragraph of the self-rating section, generated from result objects.

The text says what was actually computed (time points, tests, effect-size
variants, MCIDs and reliabilities with their sources, Wilcoxon settings,
missing items, dropout). It contains no counts, so nothing in it needs
suppression. Numbers are written with the language's decimal mark (the
catalogue key ``sr_m_decimal``) and case rules with ≥ / ≤. Wording comes from
the label catalogue ``selfrating.toml``;
to keep this analysis module free of presentation imports, the caller passes
the lookup function::

    from kureval.report.labels import t
    text = methods_text(pp, cs, lg, text=lambda key, **kw: t(key, lang, **kw))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from kureval.selfrating.caseness import CasenessResult
from kureval.selfrating.longitudinal import LongitudinalResult
from kureval.selfrating.prepost import PrePostResult

__all__ = ["methods_text"]


class TextFn(Protocol):
    def __call__(self, key: str, **fmt: Any) -> str: ...


_RELATION = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}


def _fmt(x: float, decimal: str = ".") -> str:
    """Shortest plain form of ``x`` (``1.5``, ``0.066``, ``10``) with the given decimal mark."""
    return f"{x:g}".replace(".", decimal)


def _decimal(text: TextFn) -> str:
    """The language's decimal mark: the catalogue key ``sr_m_decimal`` ("." or ",")."""
    try:
        mark = text("sr_m_decimal")
    except Exception:  # a caller's own wording function without the key: keep the point
        return "."
    return mark if mark in {".", ","} else "."


def _join(items: list[str], text: TextFn) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + text("sr_and") + items[-1]


def _prepost_part(pp: PrePostResult, text: TextFn, label: Callable[[str], str]) -> list[str]:
    tab = pp.table.drop_duplicates("scale")
    dec = _decimal(text)
    conf = _fmt(100 * pp.confidence, dec)
    out = [
        text("sr_m_pairs", pre=label(pp.pre), post=label(pp.post)),
        text("sr_m_ttest", conf=conf, n_scales=len(tab)),
    ]
    wkey = (
        "sr_m_wilcoxon_exact"
        if pp.settings.get("exact")
        else ("sr_m_wilcoxon_cc" if pp.settings.get("correct", True) else "sr_m_wilcoxon_nocc")
    )
    out.append(text(wkey))
    out.append(text("sr_m_effects"))
    with_mcid = tab[tab["mcid"].notna()]
    if len(with_mcid):
        parts = [
            f"{label(str(sc))} {_fmt(float(m), dec)} ({src})"
            for sc, m, src in zip(
                with_mcid["scale"], with_mcid["mcid"], with_mcid["mcid_source"], strict=True
            )
        ]
        out.append(text("sr_m_mcid", list=_join(parts, text)))
    missing = tab.loc[tab["mcid"].isna(), "scale"].tolist()
    if missing:
        out.append(text("sr_m_no_mcid", list=_join([label(s) for s in missing], text)))
    with_rel = tab[tab["reliability"].notna()]
    if len(with_rel):
        parts = [
            f"{label(str(sc))} {_fmt(float(r), dec)} ({src})"
            for sc, r, src in zip(
                with_rel["scale"],
                with_rel["reliability"],
                with_rel["reliability_source"],
                strict=True,
            )
        ]
        out.append(text("sr_m_rci", list=_join(parts, text)))
    imputed = int(pp.table["n_imputed"].sum())
    out.append(text("sr_m_imputed" if imputed else "sr_m_not_imputed"))
    return out


def _caseness_part(cs: CasenessResult, text: TextFn, label: Callable[[str], str]) -> list[str]:
    rules = []
    dec = _decimal(text)
    first = cs.table.drop_duplicates("scale")
    for sc, when, thr in zip(first["scale"], first["case_when"], first["threshold"], strict=True):
        rule = (
            text("sr_m_case_column")
            if when == "instrument"
            else f"{_RELATION.get(when, when)} {_fmt(float(thr), dec)}"
        )
        rules.append(f"{label(str(sc))} {rule}")
    corr = "sr_m_mcnemar_cc" if cs.correction else "sr_m_mcnemar_nocc"
    caseness = text(
        "sr_m_caseness",
        list=_join(rules, text),
        limit=cs.exact_below,
        pre=label(cs.pre),
        post=label(cs.post),
    )
    return [caseness, text(corr)]


def _longitudinal_part(
    lg: LongitudinalResult, text: TextFn, label: Callable[[str], str]
) -> list[str]:
    tps = _join([label(t) for t in lg.timepoints], text)
    out = [
        text(
            "sr_m_mixed",
            timepoints=tps,
            first=label(lg.timepoints[0]),
            conf=_fmt(100 * lg.confidence, _decimal(text)),
            fitter=text(f"sr_m_fitter_{lg.engine}"),
        ),
        text("sr_m_completers"),
        text("sr_m_attrition"),
    ]
    models = lg.models
    if len(models) and not models["converged"].all():
        bad = _join([label(s) for s in models.loc[~models["converged"], "scale"]], text)
        out.append(text("sr_m_not_converged", list=bad))
    return out


def methods_text(
    prepost: PrePostResult | None = None,
    caseness: CasenessResult | None = None,
    longitudinal: LongitudinalResult | None = None,
    *,
    text: TextFn,
    label: Callable[[str], str] | None = None,
) -> str:
    """Methods paragraphs (Markdown) for whichever results are given.

    Parameters
    ----------
    prepost, caseness, longitudinal : result objects, optional
    text : callable
        ``text(key, **fmt) -> str``, normally ``lambda k, **kw: t(k, lang, **kw)``.
    label : callable, optional
        Display name of a scale or time point (default: the name itself).
    """
    lab = label or (lambda s: s)
    paras: list[str] = []
    if prepost is not None:
        paras.append(" ".join(_prepost_part(prepost, text, lab)))
    if caseness is not None:
        paras.append(" ".join(_caseness_part(caseness, text, lab)))
    if longitudinal is not None:
        paras.append(" ".join(_longitudinal_part(longitudinal, text, lab)))
    return "\n\n".join(paras)
