"""`python -m cupboard` export-fhir, import-referrals, import-fhir, export-cohort/queue."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import func, select

from cupboard.db import unit_of_work
from cupboard.models import AuditEvent, Case, Patient
from cupboard.services.context import ServiceContext
from cupboard.services.meetings import add_to_agenda, create_meeting
from cupboard.services.performance import record_ecog

REPO_ROOT = Path(__file__).resolve().parents[2]
RECENT = (dt.date.today() - dt.timedelta(days=2)).isoformat()
REFERRALS = (
    "mrn,name,sex,date_of_birth,referral_date,metastatic_sites\n"
    f"CLI-1,Ada Cli,female,1960-01-01,{RECENT},liver\n"
    f"CLI-2,Ben Cli,,1961-01-01,{RECENT},bone\n"
    f"CLI-3,Cid Cli,male,1962-01-01,{RECENT},lung\n"
)


def cupboard(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CUPBOARD_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "cupboard", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr


def _count(url: str, model: type) -> int:
    with unit_of_work(url) as session:
        return session.scalar(select(func.count(model.id))) or 0  # type: ignore[attr-defined]


def test_export_fhir_prints_a_pseudonymised_bundle_or_writes_an_identified_one(
    database_url: str, make_case: Callable[..., int], tmp_path: Path
) -> None:
    case_id = make_case(mrn="CLI-SECRET", name="Secret Cli")
    result = cupboard("export-fhir", str(case_id), url=database_url)
    assert result.returncode == 0, result.stderr
    bundle = Bundle.model_validate_json(result.stdout)
    assert bundle.meta.security[0].code == "PSEUDED"
    assert "CLI-SECRET" not in result.stdout and "Secret Cli" not in result.stdout

    output = tmp_path / "case.json"
    result = cupboard(
        "export-fhir", str(case_id), "--identifiers", "--output", str(output), url=database_url
    )
    assert result.returncode == 0, result.stderr
    assert "CLI-SECRET" in output.read_text()
    assert str(output) in result.stdout
    with unit_of_work(database_url) as session:
        reasons = session.scalars(
            select(AuditEvent.reason).where(AuditEvent.action == "export").order_by(AuditEvent.id)
        ).all()
    assert reasons == ["FHIR bundle, pseudonymised", "FHIR bundle, with identifiers"]


# Refusals of the command line and of unreadable files are the same on either database:
# these run on SQLite only (the services they would reach are tested on both).
@pytest.mark.parametrize("backend", ["sqlite"])
def test_export_fhir_refuses_bad_input(database_url: str, tmp_path: Path) -> None:
    _refused(cupboard("export-fhir", "4242", url=database_url), "case 4242 does not exist")
    _refused(
        cupboard("export-fhir", "four", url=database_url),
        "argument case_id: must be a whole number",
    )
    _refused(
        cupboard("export-fhir", "1", "--output", str(tmp_path / "no" / "x.json"), url=database_url),
        "does not exist",
    )


def test_import_referrals_dry_run_then_commit(
    database_url: str, make_case: Callable[..., int], tmp_path: Path
) -> None:
    make_case(mrn="CLI-3", name="Cid Cli", sex="male", date_of_birth=dt.date(1962, 1, 1))
    path = tmp_path / "referrals.csv"
    path.write_text(REFERRALS)
    patients = _count(database_url, Patient)
    events = _count(database_url, AuditEvent)

    dry = cupboard("import-referrals", str(path), url=database_url)
    assert dry.returncode == 1, dry.stderr  # a row was refused
    assert "referrals.csv: 1 to import, 1 already exist (skipped), 1 refused" in dry.stdout
    assert "refused line 3: sex: is required" in dry.stdout
    assert "already exists, skipped: line 4: MRN CLI-3" in dry.stdout
    assert "dry run: nothing was written" in dry.stdout
    assert (_count(database_url, Patient), _count(database_url, AuditEvent)) == (patients, events)

    committed = cupboard("import-referrals", str(path), "--commit", url=database_url)
    assert committed.returncode == 1, committed.stderr
    assert "committed: 1 imported, 1 already existed (skipped), 1 refused" in committed.stdout
    assert _count(database_url, Patient) == patients + 1

    again = cupboard("import-referrals", str(path), "--commit", url=database_url)
    assert "committed: 0 imported, 2 already existed (skipped), 1 refused" in again.stdout
    assert _count(database_url, Patient) == patients + 1


@pytest.mark.parametrize("backend", ["sqlite"])
def test_import_referrals_refuses_a_malformed_file(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("mrn,name\nX,Y\n")
    _refused(cupboard("import-referrals", str(path), url=database_url), "missing required column")
    _refused(
        cupboard("import-referrals", str(tmp_path / "missing.csv"), url=database_url),
        "cannot read the file",
    )
    assert _count(database_url, Patient) == 0


def test_import_fhir_moves_a_case_between_databases(
    database_url: str,
    second_database_url: str,
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    tmp_path: Path,
) -> None:
    case_id = make_case(mrn="MOVE-1", name="Mo Ving", sites=("liver", "adrenal"))
    record_ecog(contexts["navigator"], case_id, score=1, observed_on=dt.date.today())
    bundle = tmp_path / "case.json"
    assert (
        cupboard(
            "export-fhir", str(case_id), "--identifiers", "--output", str(bundle), url=database_url
        ).returncode
        == 0
    )
    dry = cupboard("import-fhir", str(bundle), url=second_database_url)
    assert dry.returncode == 0, dry.stderr
    assert "1 to import" in dry.stdout and "to import: Patient: MRN MOVE-1" in dry.stdout
    assert _count(second_database_url, Case) == 0
    done = cupboard("import-fhir", str(bundle), "--commit", url=second_database_url)
    assert done.returncode == 0, done.stderr
    assert "committed: 1 imported" in done.stdout
    with unit_of_work(second_database_url) as session:
        case = session.scalar(select(Case))
        assert case is not None and case.metastatic_sites == ["liver", "adrenal"]

    pseudonymised = tmp_path / "pseudo.json"
    pseudonymised.write_text(cupboard("export-fhir", str(case_id), url=database_url).stdout)
    refused = cupboard("import-fhir", str(pseudonymised), url=second_database_url)
    assert refused.returncode == 1
    assert "refused Patient: mrn: is missing: this bundle is pseudonymised" in refused.stdout

    broken = tmp_path / "broken.json"
    broken.write_text('{"resourceType": "Bundle", "type": ')
    _refused(cupboard("import-fhir", str(broken), url=second_database_url), "is not valid JSON")


def test_export_cohort_and_queue(
    database_url: str,
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    tmp_path: Path,
) -> None:
    first = make_case(mrn="Q-1")
    make_case(mrn="Q-2")
    meeting = create_meeting(contexts["navigator"], meeting_date=dt.date.today())
    add_to_agenda(contexts["navigator"], meeting, first)

    xlsx = tmp_path / "cohort.xlsx"
    result = cupboard("export-cohort", "--format", "xlsx", "--output", str(xlsx), url=database_url)
    assert result.returncode == 0, result.stderr
    assert "2 rows, pseudonymised" in result.stdout
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.read_bytes())).active
    assert sheet is not None
    rows = list(sheet.values)
    assert rows[0][:3] == ("case_id", "pseudonym", "sex") and len(rows) == 3

    csv = tmp_path / "queue.csv"
    result = cupboard(
        "export-queue",
        str(meeting),
        "--format",
        "csv",
        "--identifiers",
        "--output",
        str(csv),
        url=database_url,
    )
    assert result.returncode == 0, result.stderr
    lines = csv.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("position,case_id,pseudonym,mrn,name,date_of_birth")
    assert len(lines) == 2 and ",Q-1," in lines[1]

    _refused(
        cupboard("export-cohort", "--format", "pdf", "--output", str(csv), url=database_url),
        "invalid choice: 'pdf'",
    )


def test_cli_can_act_as_an_account_and_is_refused_like_it(
    database_url: str, contexts: dict[str, ServiceContext], tmp_path: Path
) -> None:
    _refused(
        cupboard(
            "export-cohort",
            "--format",
            "csv",
            "--output",
            str(tmp_path / "c.csv"),
            "--as",
            "test-viewer",
            url=database_url,
        ),
        "Not allowed",
    )
    result = cupboard(
        "export-cohort",
        "--format",
        "csv",
        "--output",
        str(tmp_path / "c.csv"),
        "--as",
        "test-navigator",
        url=database_url,
    )
    assert result.returncode == 0, result.stderr
    with unit_of_work(database_url) as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "export"))
        assert event is not None and event.actor_username == "test-navigator"
