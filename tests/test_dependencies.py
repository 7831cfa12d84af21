"""environment.yml and pyproject.toml must list the same dependencies with the same lower bounds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:(>=|==|<=|~=|>|<)\s*([0-9][0-9A-Za-z.\-]*))?\s*$")


def _parse(spec: str) -> tuple[str, str | None]:
    m = _REQ.match(spec)
    assert m, f"cannot parse requirement {spec!r}"
    name = m.group(1).lower().replace("_", "-")
    return name, (f"{m.group(2)}{m.group(3)}" if m.group(2) else None)


def pyproject_deps() -> dict[str, str | None]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    specs = list(data["project"]["dependencies"]) + list(
        data["project"]["optional-dependencies"]["dev"]
    )
    return dict(_parse(s) for s in specs)


def environment_deps() -> dict[str, str | None]:
    deps: dict[str, str | None] = {}
    in_deps = False
    for line in (ROOT / "environment.yml").read_text(encoding="utf-8").splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        if in_deps and line and not line.startswith(" "):
            break
        stripped = line.split("#", 1)[0].strip()
        if in_deps and stripped.startswith("- "):
            name, bound = _parse(stripped[2:])
            if name not in ("python", "pip"):
                deps[name] = bound
    return deps


def test_same_packages_and_bounds():
    py, env = pyproject_deps(), environment_deps()
    assert py == env, (
        f"only in pyproject.toml: {sorted(set(py) - set(env))}; "
        f"only in environment.yml: {sorted(set(env) - set(py))}; "
        f"different bounds: {sorted(k for k in set(py) & set(env) if py[k] != env[k])}"
    )


def test_python_bound_agrees():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["project"]["requires-python"] == ">=3.11"
    assert "python>=3.11" in (ROOT / "environment.yml").read_text(encoding="utf-8")


def test_parser_sees_drift(tmp_path):
    """The comparison above can fail: a changed bound is detected."""
    assert _parse("pandas>=3.0") != _parse("pandas>=2.2")
    assert _parse("Pandas_Stubs >= 2.2") == ("pandas-stubs", ">=2.2")
