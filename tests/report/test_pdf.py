"""The outcome letter PDF: it opens, holds the decisions and ECOG values, keeps names."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import os

import pytest
from pypdf import PdfReader

from cupboard.report import (
    ClinicSummary,
    LetterDecision,
    find_unicode_font,
    outcome_letter_pdf,
    to_latin1,
)

ECOG = (
    (dt.date(2025, 1, 2), 0),
    (dt.date(2025, 1, 23), 1),
    (dt.date(2025, 2, 13), 3),
)
LATEST = LetterDecision(
    decided_on=dt.date(2025, 2, 4),
    label="Site-specific therapy",
    detail="Presumed primary: Germ cell",
    rationale="Midline mass in a young man with β-hCG 8000 IU/L ↑ and SALL4+ (Ärlig review)",
    plan="BEP × 3 cycles; review after cycle 2.",
    ecog_at_decision=1,
    meeting_date=dt.date(2025, 2, 4),
    attendees=("Dr S. Holm (Oncologist)", "N. Ek (Contact nurse / CUP key worker)"),
    chair="Dr S. Holm",
    follow_up_due=dt.date(2025, 3, 18),
)
EARLIER = LetterDecision(
    decided_on=dt.date(2025, 1, 21),
    label="Further workup",
    detail="Workup: PET-CT",
    rationale="Apparent single site before local therapy",
)
SUMMARY = ClinicSummary(
    centre="Regionalt CUP-team Östra",
    prepared_on=dt.date(2025, 2, 20),
    prepared_by="Dr Åke Lind",
    pseudonym="CUP-00042",
    patient_name="Åsa Öberg",
    date_of_birth=dt.date(1989, 5, 17),
    mrn="MRN-4242",
    recipient="Dr Göran Ärlig",
    diagnosis="Provisional CUP",
    sites=("Mediastinal lymph nodes",),
    pathway_start=dt.date(2025, 1, 2),
    decisions=(LATEST, EARLIER),
    ecog=ECOG,
    findings=("Serum markers: β-hCG 8000 IU/L ↑ (2025-01-05)", "Immunohistochemistry: CK7−"),
    outstanding=("PET-CT: booked, booked for 2025-02-25",),
    contacts=("CUP nurse / key worker: N. Ek",),
)


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def strokes(pdf: bytes) -> int:
    """Straight lines drawn (``x y m x y l S``) on all pages."""
    reader = PdfReader(io.BytesIO(pdf))
    return sum(page.get_contents().get_data().count(b" l S") for page in reader.pages)


@pytest.fixture(scope="module")
def unicode_letter() -> str:
    if find_unicode_font() is None:
        message = "DejaVu Sans not installed (Debian: fonts-dejavu-core)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return text_of(outcome_letter_pdf(SUMMARY))


def test_the_pdf_opens_and_names_patient_meeting_and_recipient(unicode_letter: str) -> None:
    pdf = outcome_letter_pdf(SUMMARY)
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.metadata is not None and reader.metadata.title.startswith("Outcome letter")
    assert "Re: Åsa Öberg, born 17 May 1989, hospital number MRN-4242" in unicode_letter
    assert "To: Dr Göran Ärlig" in unicode_letter
    assert "Regionalt CUP-team Östra" in unicode_letter
    assert "MDT date: 04 Feb 2025" in unicode_letter
    assert "Dr S. Holm (Oncologist); N. Ek (Contact nurse / CUP key worker)" in unicode_letter
    # The pseudonym is for the file name only, and no phone number is printed.
    assert "CUP-00042" not in unicode_letter
    assert SUMMARY.file_name == "outcome-letter-CUP-00042-2025-02-20.pdf"


def test_the_pdf_holds_every_decision_with_its_rationale(unicode_letter: str) -> None:
    assert "Decision: Site-specific therapy (Presumed primary: Germ cell)" in unicode_letter
    assert f"Rationale: {LATEST.rationale}" in unicode_letter
    assert "Plan: BEP × 3 cycles; review after cycle 2." in unicode_letter
    assert "Further workup (Workup: PET-CT)" in unicode_letter
    assert "Rationale: Apparent single site before local therapy" in unicode_letter
    assert "ECOG at decision: 1" in unicode_letter


def test_the_pdf_holds_the_ecog_values_and_draws_the_trend(unicode_letter: str) -> None:
    assert "ECOG recorded: 02 Jan 2025: 0 · 23 Jan 2025: 1 · 13 Feb 2025: 3" in unicode_letter
    assert "Latest: ECOG 3 (Limited self-care" in unicode_letter
    with_chart = strokes(outcome_letter_pdf(SUMMARY))
    without = strokes(outcome_letter_pdf(dataclasses.replace(SUMMARY, ecog=())))
    # Six grid lines (ECOG 0-5), two axes and one segment between each pair of points.
    assert with_chart - without == 6 + 2 + (len(ECOG) - 1)


def test_non_ascii_names_and_markers_survive(unicode_letter: str) -> None:
    for text in ("Åsa Öberg", "Dr Åke Lind", "β-hCG 8000 IU/L ↑", "CK7−", "Östra"):
        assert text in unicode_letter


def test_without_a_unicode_font_the_letter_still_reads() -> None:
    odd = dataclasses.replace(SUMMARY, patient_name="Åsa Żółć-Öberg")
    text = text_of(outcome_letter_pdf(odd, unicode_font=False))
    assert "Re: Åsa Zólc-Öberg, born 17 May 1989" in text  # Latin-1 kept, the rest spelt
    assert "beta-hCG 8000 IU/L (raised)" in text
    assert "Decision: Site-specific therapy" in text
    assert "ECOG recorded: 02 Jan 2025: 0 · 23 Jan 2025: 1 · 13 Feb 2025: 3" in text


def test_transliteration() -> None:
    assert to_latin1("Åsa Öberg") == "Åsa Öberg"
    assert to_latin1("β-hCG ≥ 10 – CK20−") == "beta-hCG >= 10 - CK20-"
    assert to_latin1("Łódź 日本") == "Lódz ??"


def test_a_case_without_decisions_or_ecog_says_so() -> None:
    empty = dataclasses.replace(SUMMARY, decisions=(), ecog=(), findings=(), outstanding=())
    text = text_of(outcome_letter_pdf(empty, unicode_font=False))
    assert "No decision has been recorded yet." in text
    assert "No ECOG performance status recorded." in text
    assert "No findings recorded yet." in text
    assert "None: the standard workup is complete." in text


def test_a_long_letter_runs_over_pages_with_numbered_footers() -> None:
    long = dataclasses.replace(
        SUMMARY,
        decisions=(dataclasses.replace(LATEST, rationale="Lange motivering. " * 600),),
        ecog=tuple((dt.date(2025, 1, 1) + dt.timedelta(days=7 * n), n % 5) for n in range(30)),
    )
    pdf = outcome_letter_pdf(long, unicode_font=False)
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    assert pages >= 3
    assert f"page {pages}/{pages}" in text_of(pdf)
