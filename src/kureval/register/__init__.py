"""kureval.register — register outcomes around the index date and their comparison (design 2).

Modules (imported on use; nothing happens on ``import kureval.register``):

- :mod:`~kureval.register.windows`: events → one row per matched person × window
  (``kv.register_windows``);
- :mod:`~kureval.register.compare`: :func:`~kureval.register.compare.att` on matched
  data and the difference in differences :func:`~kureval.register.compare.did` (``kv.did``);
- :mod:`~kureval.register.counts`: Poisson / negative-binomial ratio of rate ratios;
- :mod:`~kureval.register.survival`: return to work (Kaplan–Meier, stratified Cox);
- :mod:`~kureval.register.sandwich`: cluster-robust covariance as ``sandwich::vcovCL``.
"""
