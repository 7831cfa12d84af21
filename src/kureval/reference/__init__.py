"""Design 2: matched reference groups from registers.

``kv.reference.match(data, treat, ...)`` (greedy nearest-neighbour matching,
MatchIt-compatible), ``kv.reference.balance(result)`` (MatchIt ``summary()``
statistics) and ``kv.reference.match_reference(study)`` (candidate pool at
each index date + matching from study.toml).  Modules: ``propensity``,
``nearest`` (the matching engine), ``match``, ``balance``, ``pool``, ``study``.
"""

from kureval.reference.balance import BalanceResult, balance
from kureval.reference.match import MatchResult, MatchSpec, match
from kureval.reference.study import match_reference

__all__ = ["BalanceResult", "MatchResult", "MatchSpec", "balance", "match", "match_reference"]
