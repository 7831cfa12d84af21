"""Cluster-robust (sandwich) covariance, one-way and multiway, as R's ``sandwich::vcovCL``.

Matched data are dependent within a matched set, so every model on matched
data in :mod:`kureval.register` uses a covariance clustered on the matched
set; after matching *with* replacement a reference sits in several sets, and
the covariance is clustered on set and on person at the same time (two-way,
Cameron, Gelbach & Miller 2011), exactly as ``vcovCL(cluster = ~ subclass +
id)`` does.

The formula (Zeileis, Köll & Graham 2020, eq. 5 and §2.3)::

    V = B (Σ_c  s_c · adj_c · Σ_g u_g u_gᵀ) B · hc1

- ``B`` is the inverse of the (weighted) information matrix, for WLS
  ``(XᵀWX)⁻¹``, for a GLM with log link ``(Xᵀ diag(w·μ²/V(μ)) X)⁻¹``;
- ``u_g`` is the sum of the estimating functions (scores) of the rows in
  cluster ``g``;
- ``c`` runs over the clustering variables and (for multiway clustering)
  all their intersections, ``s_c = (−1)^(|c|+1)`` (inclusion–exclusion);
- ``adj_c = G_c / (G_c − 1)`` with ``G_c`` the number of clusters in ``c``
  (``cadjust = TRUE``);
- ``hc1 = (n − 1) / (n − k)`` when ``type = "HC1"`` (R's default for ``lm``),
  1 for ``"HC0"`` (R's default for ``glm``).

One-way with ``type="HC1"`` this is the Stata/CR1 small-sample correction
``G/(G−1) · (n−1)/(n−k)``, the same as statsmodels'
``fit(cov_type="cluster", cov_kwds={"groups": g, "use_correction": True,
"df_correction": True})`` (statsmodels' default); the test suite checks both.
Like ``vcovCL(fix = FALSE)`` the multiway matrix is not forced to be positive
semi-definite.

References
----------
Zeileis A, Köll S, Graham N (2020). Various versatile variances: an
object-oriented implementation of clustered covariances in R. *J Stat Softw*
95(1). doi:10.18637/jss.v095.i01

Cameron AC, Gelbach JB, Miller DL (2011). Robust inference with multiway
clustering. *J Bus Econ Stat* 29(2):238–249. doi:10.1198/jbes.2010.07136
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["cluster_vcov"]


def _codes(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Integer codes of the combinations of several cluster variables."""
    if len(columns) == 1:
        return pd.factorize(np.asarray(columns[0]))[0]
    frame = pd.DataFrame({i: pd.factorize(np.asarray(c))[0] for i, c in enumerate(columns)})
    return frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy()


def cluster_vcov(
    scores: np.ndarray,
    bread: np.ndarray,
    clusters: Sequence[np.ndarray],
    type: Literal["HC0", "HC1"] = "HC1",
) -> np.ndarray:
    """Cluster-robust covariance ``B M B`` as ``sandwich::vcovCL(fix = FALSE)``.

    Parameters
    ----------
    scores : ndarray, shape (n, k)
        Estimating functions per row (for WLS ``w_i x_i e_i``).
    bread : ndarray, shape (k, k)
        Inverse information ``(XᵀWX)⁻¹`` (not multiplied by n).
    clusters : sequence of ndarray
        One array of length n per clustering variable (two for two-way).
    type : {"HC1", "HC0"}
        ``"HC1"`` multiplies by ``(n − 1)/(n − k)`` as R does for ``lm``;
        ``"HC0"`` does not (R's default for ``glm``).  Both apply
        ``G/(G − 1)`` per clustering dimension.

    Returns
    -------
    ndarray, shape (k, k)
    """
    scores = np.asarray(scores, dtype=float)
    n, k = scores.shape
    meat = np.zeros((k, k))
    p = len(clusters)
    for size in range(1, p + 1):
        sign = (-1) ** (size + 1)
        for combo in combinations(range(p), size):
            codes = _codes([clusters[i] for i in combo])
            g = int(codes.max()) + 1
            summed = np.column_stack(
                [np.bincount(codes, weights=scores[:, j], minlength=g) for j in range(k)]
            )
            meat += sign * g / (g - 1) * (summed.T @ summed)
    if type == "HC1":
        meat *= (n - 1) / (n - k)
    return bread @ meat @ bread
