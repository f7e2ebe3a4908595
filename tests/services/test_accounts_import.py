"""Importing the accounts service hashes nothing: every command-line run and every test
process imports it, and an argon2 hash costs about a tenth of a second."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# Any argon2 hash during the import fails it.
_IMPORT_WITHOUT_HASHING = """
import argon2

def refuse(self, *args, **kwargs):
    raise AssertionError("argon2 hash at import")

argon2.PasswordHasher.hash = refuse
import cupboard.services.accounts
"""


def test_importing_the_accounts_service_hashes_no_password() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_WITHOUT_HASHING],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
