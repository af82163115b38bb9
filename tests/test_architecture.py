"""The layers of DESIGN.md are checked, not hoped for: lint-imports passes on the code as it is and
fails as soon as a domain imports another (or the knowledge base imports the API)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--no-cache"], cwd=tree, capture_output=True, text=True, timeout=120,
                          env={"PATH": str(LINT.parent), "PYTHONPATH": str(tree)})


@pytest.fixture
def tree(tmp_path) -> Path:
    """A copy of the packages and the contracts, to break on purpose."""
    for package in ("api", "actions", "knowledge_base"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_code_keeps_its_layers():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


@pytest.mark.parametrize("module, bad_import, contract", [
    ("api/customers/service.py", "from api.tickets import service as _tickets", "api.customers is not allowed to import api.tickets"),
    ("api/dispatch/service.py", "from api.flows import dispatching as _flow", "api.dispatch is not allowed to import api.flows"),
    ("api/core/ids.py", "from api.metering import models as _metering", "api.core is not allowed to import api.metering"),
    ("knowledge_base/search.py", "import api.core.ids as _ids", "knowledge_base is not allowed to import api"),
    ("actions/common.py", "from api.tickets import service as _tickets", "actions is not allowed to import api.tickets"),
])
def test_a_forbidden_import_breaks_the_contracts(tree, module, bad_import, contract):
    path = tree / module
    path.write_text(path.read_text() + f"\n{bad_import}  # noqa\n")
    result = lint(tree)
    assert result.returncode != 0
    assert contract in result.stdout, result.stdout
