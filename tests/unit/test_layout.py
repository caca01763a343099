"""The layout of docs/architecture.md holds: which package may import which (read from the source,
lazy imports included), and the wheel ships no test fixture."""

from __future__ import annotations

import ast
import tomllib

import pytest

from services.runtime.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit


def imports(package: str) -> dict[str, set[str]]:
    """Module file (relative to the project) -> the modules it imports, for every file of
    ``package`` (a folder of the project: ``deploy``, ``services/cli``)."""
    found: dict[str, set[str]] = {}
    for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
        found[str(path.relative_to(PROJECT_ROOT))] = names
    return found


def offenders(package: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    """The files of ``package`` that import a module under one of ``forbidden``."""
    out: dict[str, list[str]] = {}
    for path, names in imports(package).items():
        bad = sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden))
        if bad:
            out[path] = bad
    return out


def wheel_packages() -> list[str]:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages: list[str] = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    return packages


def test_the_contracts_import_no_other_package_of_ours() -> None:
    assert offenders("schemas", ("directory", "services", "deploy", "tests", "bench")) == {}


def test_the_directory_is_a_library_the_services_use_not_one_of_them() -> None:
    assert offenders("directory", ("services", "deploy", "tests", "bench")) == {}
    assert not (PROJECT_ROOT / "services" / "directory").exists()
    assert (PROJECT_ROOT / "directory" / "py.typed").exists()


def test_deploy_and_the_cli_do_not_import_each_other() -> None:
    """The CLI starts the embedded stack (``commande stack``: ``deploy.local``); so nothing in
    ``deploy`` may import the CLI: the demo reads topics through ``services.runtime.wire``."""
    assert offenders("deploy", ("services.cli",)) == {}
    assert {path: names for path, names in offenders("services/cli", ("deploy",)).items()
            if any(n != "deploy.local" and not n.startswith("deploy.local.") for n in names)} == {}


def test_the_wheel_ships_no_test_fixture() -> None:
    packages = wheel_packages()
    assert "tests" not in packages
    assert "bench" not in packages
    for package in packages:
        assert offenders(package, ("tests", "bench")) == {}
        assert [p.name for p in (PROJECT_ROOT / package).rglob("samples.py")] == []


def test_no_test_module_imports_another_and_the_benches_import_no_test() -> None:
    """What two tests (or a test and a bench) share lives in ``tests/support``: a test module
    imported by another runs its module-level fixtures twice and hides who owns the helper."""
    from_tests = {path: [n for n in names if n.rsplit(".", 1)[-1].startswith("test_")]
                  for path, names in imports("tests").items()}
    assert {path: names for path, names in from_tests.items() if names} == {}
    assert offenders("bench", ("tests.unit", "tests.integration", "tests.e2e", "tests.contract",
                               "tests.reliability", "tests.browser")) == {}
