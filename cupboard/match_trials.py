"""``python -m cupboard match-trials CASE.json``: trial matching on the command line.

One case profile in (the assess contract's input, docs/assess-contract.md; a file or
``-`` for stdin), one JSON object out: every trial ranked as the case page ranks them
(eligible, possibly eligible with what would decide it, not eligible with why). The
trials are the recruiting register of the configured database, or ``--trials FILE`` (a
JSON list of ``{"identifier", "title", "criteria"}``) for offline use. Bad input exits 2
with one line on stderr naming the field and prints nothing on stdout, like ``assess``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TextIO

from cupboard.assess import ProfileError, _parse, _read, profile_from_json
from cupboard.guidance import assess_case
from cupboard.trials import (
    CriteriaError,
    RegisteredTrial,
    match_to_json,
    rank_matches,
    trials_from_json,
)


def _offline_trials(path: str, stdin: TextIO) -> tuple[RegisteredTrial, ...]:
    try:
        return trials_from_json(_parse(_read(path, stdin), path))
    except CriteriaError as error:
        raise ProfileError(f"{path}: {error.field}", error.message) from None


def run_match_trials(
    case_path: str,
    trials_path: str | None,
    prior_lines: int | None,
    register: Callable[[], tuple[RegisteredTrial, ...]],
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """Print the ranked matches; ``register`` reads the recruiting trials when no
    ``trials_path`` is given. Returns 0, or 2 after one line on stderr."""
    try:
        profile = profile_from_json(_parse(_read(case_path, stdin), case_path))
        if prior_lines is not None and not 0 <= prior_lines <= 20:
            raise ProfileError("--prior-lines", f"must be an integer 0-20, got {prior_lines}")
        trials = _offline_trials(trials_path, stdin) if trials_path else register()
    except ProfileError as error:
        print(error, file=stderr)
        return 2
    ranked = rank_matches(profile, assess_case(profile), trials, prior_lines)
    output = {"matches": [match_to_json(r) for r in ranked]}
    stdout.write(json.dumps(output, indent=2, ensure_ascii=False) + "\n")
    return 0
