"""``python -m cupboard match-trials``, run as a user runs it: a case profile in, the
ranked trials out as JSON; bad input exits 2 with one line naming the field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cupboard.services.context import ServiceContext
from cupboard.services.trials import TrialDraft, add_trial

REPO = Path(__file__).resolve().parents[2]

CASE: dict[str, Any] = {
    "sex": "female",
    "age": 58,
    "histology": "adenocarcinoma",
    "sites": ["liver", "bone"],
    "ecog": 1,
}
NTRK = {"required_biomarkers": ["NTRK fusion"], "ecog_max": 2}
TRIALS: list[dict[str, Any]] = [
    {"identifier": "NCT09990011", "title": "Men only", "criteria": {"sex": "male"}},
    {"identifier": "NCT09990012", "title": "NTRK basket", "criteria": NTRK},
    {"identifier": "NCT09990013", "title": "CUP trial", "criteria": {"scope": "unknown_primary"}},
]


def _run(
    *args: str, url: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    if url is not None:
        env["CUPBOARD_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "cupboard", "match-trials", *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _write(path: Path, data: object) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def test_offline_trials_ranked_eligible_possibly_not(tmp_path: Path) -> None:
    trials = _write(tmp_path / "trials.json", TRIALS)
    done = _run("-", "--trials", trials, stdin=json.dumps(CASE))
    assert done.returncode == 0, done.stderr
    matches = json.loads(done.stdout)["matches"]
    assert [(m["identifier"], m["state"]) for m in matches] == [
        ("NCT09990013", "eligible"),
        ("NCT09990012", "possibly_eligible"),
        ("NCT09990011", "not_eligible"),
    ]
    assert matches[1]["unknown"] == [
        {"criterion": "requires NTRK fusion", "reason": "NGS not done", "investigation": "ngs"}
    ]
    assert matches[2]["failed"] == [{"criterion": "sex male", "reason": "patient is female"}]


def test_the_fusion_recorded_makes_the_basket_eligible(tmp_path: Path) -> None:
    trials = _write(tmp_path / "trials.json", TRIALS[1:2])
    case = {**CASE, "molecular": {"alterations": ["ETV6::NTRK3 fusion"]}}
    done = _run(_write(tmp_path / "case.json", case), "--trials", trials)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["matches"][0]["state"] == "eligible"


@pytest.mark.parametrize(
    ("case", "trials", "field"),
    [
        ({**CASE, "ecog": 9}, TRIALS, "ecog"),
        ({"age": 50}, TRIALS, "sex"),
        (CASE, [{"identifier": "NCT1", "criteria": {"ecog_max": "two"}}], "[0].criteria.ecog_max"),
        (CASE, {"identifier": "NCT1"}, "trials"),
        (CASE, [{"title": "no id"}], "[0].identifier"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_field(
    tmp_path: Path, case: object, trials: object, field: str
) -> None:
    done = _run(
        _write(tmp_path / "case.json", case), "--trials", _write(tmp_path / "trials.json", trials)
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert field in done.stderr, done.stderr


def test_not_json_exits_2(tmp_path: Path) -> None:
    case = tmp_path / "case.json"
    case.write_text("{broken")
    done = _run(str(case), "--trials", _write(tmp_path / "t.json", TRIALS))
    assert (done.returncode, done.stdout) == (2, "")
    assert "invalid JSON" in done.stderr


def test_without_trials_file_reads_the_recruiting_register(
    contexts: dict[str, ServiceContext], tmp_path: Path, backend: str
) -> None:
    navigator = contexts["navigator"]
    add_trial(navigator, TrialDraft("NCT09990014", "NTRK basket", NTRK))
    done = _run(_write(tmp_path / "case.json", CASE), url=navigator.database_url)
    assert done.returncode == 0, done.stderr
    matches = json.loads(done.stdout)["matches"]
    assert [(m["identifier"], m["state"]) for m in matches] == [
        ("NCT09990014", "possibly_eligible")
    ]
