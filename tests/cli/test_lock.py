"""requirements.lock (what `make venv` installs) agrees with pyproject.toml (what we require):
a pin changed in one and not the other fails here, before an install drifts from the lock."""

from __future__ import annotations

import re
import tomllib

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.fast

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def pins(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        match = PIN.match(line.strip())
        if match:
            found[normalise(match.group(1))] = match.group(2)
    return found


def test_every_pin_of_pyproject_is_locked_at_the_same_version() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    required = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        required += [r for r in extra if not r.startswith("docfactory[")]
    assert all("==" in r for r in required), "pyproject.toml pins exact versions"
    wanted = pins(required)
    locked = pins((REPO / "requirements.lock").read_text(encoding="utf-8").splitlines())
    wrong = {name: (version, locked.get(name)) for name, version in wanted.items()
             if locked.get(name) != version}
    assert not wrong, f"run `make lock`: pyproject.toml pin vs requirements.lock: {wrong}"


def test_every_locked_package_has_hashes() -> None:
    text = (REPO / "requirements.lock").read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    unhashed = [e.split()[0] for e in entries if PIN.match(e) and "--hash=sha256:" not in e]
    assert not unhashed and len(entries) > 100
