"""Design 1: pre/post self-ratings.

Modules (imported on use; this package imports nothing at import time):

* :mod:`~kureval.selfrating.prepost` — :func:`prepost`, :class:`PrePostResult`
  (paired t, Wilcoxon, effect sizes, shares improved/unchanged/worse,
  reliable change, Holm);
* :mod:`~kureval.selfrating.effectsize` — d_z (noncentral-t CI), d_av, g_av,
  rank-biserial, Wilcoxon signed-rank on plain arrays;
* :mod:`~kureval.selfrating.change` — MCID categories, Jacobson–Truax RCI;
* :mod:`~kureval.selfrating.caseness` — :func:`caseness`, McNemar;
* :mod:`~kureval.selfrating.longitudinal` — :func:`longitudinal` (REML
  random-intercept model, completers, attrition);
* :mod:`~kureval.selfrating.methods` — the methods paragraph from results.
"""
