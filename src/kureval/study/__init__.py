"""The study data contract: ``study.toml`` (:mod:`.config`), table specifications
and checks (:mod:`.schema`), reading a study folder (:mod:`.io`) and the
:class:`~kureval.study.model.Study` it becomes (:mod:`.model`).

Import from the submodules (``from kureval.study.io import load_study``);
this package imports nothing on its own, so ``import kureval.study`` is cheap.
"""
