"""What the package says about itself: licence, Python versions, typing marker, extras, and the pins of
constraints.txt inside the ranges pyproject.toml declares (the ranges ``python3 dev.py matrix`` tests)."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata, resources
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
EXTRAS: dict[str, list[str]] = PROJECT["optional-dependencies"]


def _requirements() -> list[Requirement]:
    return [Requirement(r) for r in [*PROJECT["dependencies"], *(r for rs in EXTRAS.values() for r in rs)]]


def test_the_licence_is_mit_and_shipped() -> None:
    meta = metadata.metadata("mgdecision")
    assert meta["License-Expression"] == "MIT" and "LICENSE" in (meta.get_all("License-File") or [])
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "mgdecision contributors" in text
    assert [a["name"] for a in PROJECT["authors"]] == ["mgdecision contributors"]


def test_the_python_versions_claimed_start_at_requires_python() -> None:
    versions = [c.rsplit(" :: ", 1)[1] for c in PROJECT["classifiers"]
                if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert versions == ["3.11", "3.12", "3.13"]
    assert PROJECT["requires-python"] == f">={versions[0]}"
    assert {"Intended Audience :: Healthcare Industry", "Topic :: Scientific/Engineering :: Medical Science Apps.",
            "Typing :: Typed"} <= set(PROJECT["classifiers"])
    assert {"Homepage", "Documentation", "Issues"} <= set(PROJECT["urls"])


def test_the_package_is_marked_typed() -> None:
    assert resources.files("mgdecision").joinpath("py.typed").is_file()


def test_the_widgets_extra_is_the_form_without_voila_and_all_is_every_extra() -> None:
    names = {e: {canonicalize_name(Requirement(r).name) for r in rs} for e, rs in EXTRAS.items()}
    assert "voila" not in names["widgets"] and "jupyterlab" not in names["widgets"]
    assert {"voila", "mgdecision"} == names["app"] and {"jupyterlab", "mgdecision"} == names["lab"]
    (everything,) = EXTRAS["all"]
    assert Requirement(everything).extras == set(EXTRAS) - {"all", "test"}


def test_every_dependency_has_a_floor() -> None:
    """The floors are what the matrix installs at its lowest: a requirement without one claims every release."""
    test_tools = {canonicalize_name(Requirement(r).name) for r in EXTRAS["test"]}
    for req in _requirements():
        if req.name != "mgdecision" and canonicalize_name(req.name) not in test_tools:
            assert any(s.operator == ">=" for s in req.specifier), req


def test_the_pins_lie_inside_the_declared_ranges() -> None:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        name, sep, version = line.partition("==")
        if sep:
            pins[canonicalize_name(name)] = Version(version)
    for req in _requirements():
        if req.name != "mgdecision":
            assert canonicalize_name(req.name) in pins, f"{req.name} is not pinned in constraints.txt"
            assert req.specifier.contains(pins[canonicalize_name(req.name)], prereleases=True), (req, pins)
