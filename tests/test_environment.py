"""environment.yml (conda) must stay equivalent to pyproject.toml (pip): same packages, same lower bounds."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    assert m, req
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_reqs = dict(_split(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip_section = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_section = dep["pip"]
        else:
            name, spec = _split(dep)
            conda[name] = spec
    assert '-e ".[dev]"' in pip_section, "the conda environment must install the course itself"
    pip_in_yml = dict(_split(r) for r in pip_section if not r.startswith("-e"))
    declared = {k: v for k, v in {**conda, **pip_in_yml}.items() if k not in ("python", "pip")}
    assert declared == pip_reqs
