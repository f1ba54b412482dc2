"""The environment files agree: requirements.in, the lock files, pyproject.toml, environment.yml.

The lock files are what the Makefile installs; these tests fail when one file
is edited without the others (e.g. a dependency added to pyproject.toml but
not locked) or when the running environment drifted from the lock.
"""
from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {(3, 11): ROOT / "requirements.lock", (3, 12): ROOT / "requirements-py312.lock"}


def locked(path: Path) -> dict[str, str]:
    """name -> exact version of every ``name==version`` line of a lock file."""
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def requirement_lines(path: Path) -> list[Requirement]:
    return [Requirement(line.split("#")[0].strip()) for line in path.read_text().splitlines()
            if line.split("#")[0].strip()]


@pytest.mark.parametrize("lock", LOCKS.values(), ids=lambda p: p.name)
def test_lock_pins_every_input_and_no_torch(lock):
    pins = locked(lock)
    assert len(pins) > 100
    for req in requirement_lines(ROOT / "requirements.in"):
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in requirements.in but not in {lock.name}: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), f"{lock.name}: {name}=={pins[name]} violates {req}"
    assert "torch" not in pins, "torch is installed alone, first (Colab keeps its own): keep it out of the lock"


@pytest.mark.parametrize("lock", LOCKS.values(), ids=lambda p: p.name)
def test_pyproject_dependencies_are_locked_within_their_ranges(lock):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = locked(lock)
    for text in project["dependencies"]:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        if name == "torch":
            continue
        assert name in pins, f"pyproject.toml depends on {req.name}, which {lock.name} does not pin"
        assert req.specifier.contains(pins[name], prereleases=True), f"{lock.name}: {name}=={pins[name]} violates {req}"


def test_environment_yml_installs_the_lock():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*- python=3\.11\s*$", text, re.M)
    assert re.search(r"^\s*- -r requirements\.lock\s*$", text, re.M)
    torch_spec = re.search(r'^TORCH_SPEC \?= (\S+)', (ROOT / "Makefile").read_text(), re.M).group(1)
    assert f"- {torch_spec}" in text, "environment.yml and the Makefile install different torch versions"


def test_running_environment_matches_its_lock():
    lock = LOCKS.get(sys.version_info[:2])
    if lock is None:
        pytest.skip(f"no lock file for Python {sys.version_info[0]}.{sys.version_info[1]}")
    drift = {}
    for name, version in locked(lock).items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            drift[name] = "not installed"
            continue
        if installed != version:
            drift[name] = f"{installed} installed, {version} locked"
    assert not drift, f"the environment differs from {lock.name} (rerun `make env`): {drift}"
