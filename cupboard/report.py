"""The outcome letter to the GP / referrer, as a PDF: plain data in, bytes out.

Pure: no database, no Streamlit. ``cupboard.services.clinic_summary`` reads the case,
builds a :class:`ClinicSummary` and audits every export; this module only lays the
letter out with fpdf2. The ECOG trend is drawn with fpdf2's own lines and points, so
no browser, kaleido or plotting library is needed to make it.

Names such as "Åsa" and markers such as "β-hCG" need a Unicode font: DejaVu Sans is
used where installed (Debian's ``fonts-dejavu-core``; or a folder named by
``CUPBOARD_PDF_FONT_DIR``). Without it the letter falls back to the PDF core font
and transliterates what Latin-1 cannot show ("β" → "beta"), never failing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from cupboard.knowledge.performance import ECOG_GRADES

# ---------------------------------------------------------------------------------
# The letter's data


@dataclass(frozen=True)
class LetterDecision:
    decided_on: dt.date
    label: str  # "Site-specific therapy"
    detail: str | None  # "Presumed primary: Breast"
    rationale: str
    plan: str | None = None
    ecog_at_decision: int | None = None
    meeting_date: dt.date | None = None
    attendees: tuple[str, ...] = ()  # "Dr S. Holm (Oncologist)"
    chair: str | None = None
    treatment_started_on: dt.date | None = None
    follow_up_due: dt.date | None = None


@dataclass(frozen=True)
class ClinicSummary:
    """What the outcome letter says: identifiers only as far as a GP needs them."""

    centre: str
    prepared_on: dt.date
    prepared_by: str
    pseudonym: str  # for the file name; not printed
    patient_name: str
    date_of_birth: dt.date
    mrn: str
    recipient: str | None  # the referrer
    diagnosis: str  # e.g. "Provisional CUP"
    sites: tuple[str, ...] = ()
    pathway_start: dt.date | None = None
    decisions: tuple[LetterDecision, ...] = ()  # current decisions, newest first
    ecog: tuple[tuple[dt.date, int], ...] = ()  # oldest first
    findings: tuple[str, ...] = ()
    outstanding: tuple[str, ...] = ()
    # Referrals beside the decision, one line each with its status (issue 21).
    referrals: tuple[str, ...] = ()
    contacts: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def latest_decision(self) -> LetterDecision | None:
        return self.decisions[0] if self.decisions else None

    @property
    def file_name(self) -> str:
        return f"outcome-letter-{self.pseudonym}-{self.prepared_on.isoformat()}.pdf"


# ---------------------------------------------------------------------------------
# Fonts

FONT_DIR_ENV = "CUPBOARD_PDF_FONT_DIR"
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),  # Debian, Ubuntu
    Path("/usr/share/fonts/dejavu"),  # Fedora, Arch
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
    Path("/Library/Fonts"),
)
UNICODE_FAMILY = "DejaVu"
CORE_FAMILY = "helvetica"


def find_unicode_font() -> tuple[Path, Path] | None:
    """DejaVu Sans regular and bold, if installed anywhere we know of."""
    configured = os.environ.get(FONT_DIR_ENV, "").strip()
    for folder in ((Path(configured),) if configured else ()) + FONT_DIRS:
        regular, bold = (folder / name for name in FONT_FILES)
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


# What Latin-1 (the PDF core fonts) cannot show, in words a reader understands.
_TRANSLITERATIONS = {
    "β": "beta",
    "α": "alpha",
    "γ": "gamma",
    "κ": "kappa",
    "λ": "lambda",
    "–": "-",
    "—": "-",
    "−": "-",
    "‐": "-",
    "•": "*",
    "·": "·",
    "≥": ">=",
    "≤": "<=",
    "→": "->",
    "↑": "(raised)",
    "↓": "(low)",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "…": "...",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "ı": "i",
    "œ": "oe",
    "Œ": "OE",
    "\u00a0": " ",
}


def to_latin1(text: str) -> str:
    """Text the core fonts can print: Latin-1 kept (Å, Ö, é), the rest spelt out,
    accents dropped where needed, anything else replaced by '?'."""
    out: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        if char in _TRANSLITERATIONS:
            out.append(_TRANSLITERATIONS[char])
            continue
        try:
            char.encode("latin-1")
            out.append(char)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


# ---------------------------------------------------------------------------------
# Layout

_TEXT = (20, 20, 20)
_MUTED = (90, 90, 90)
_RULE = (170, 170, 170)
_GRID = (225, 225, 225)
_LINE = (31, 78, 121)  # the ECOG colour of cupboard.charts.ecog


def _date(day: dt.date | None) -> str:
    return day.strftime("%d %b %Y") if day else "—"


class _Letter(FPDF):
    def __init__(self, summary: ClinicSummary, unicode_font: tuple[Path, Path] | None) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.summary = summary
        self.unicode = unicode_font is not None
        if unicode_font is not None:
            self.add_font(UNICODE_FAMILY, "", str(unicode_font[0]))
            self.add_font(UNICODE_FAMILY, "B", str(unicode_font[1]))
            self.family_name = UNICODE_FAMILY
        else:
            self.family_name = CORE_FAMILY
        self.set_margins(20, 18, 20)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_title(self.clean(f"Outcome letter - {summary.centre}"))
        self.set_author(self.clean(summary.prepared_by))
        self.set_creator("cupboard")

    def clean(self, text: str) -> str:
        return text if self.unicode else to_latin1(text)

    def font(self, size: float, bold: bool = False, colour: tuple[int, int, int] = _TEXT) -> None:
        self.set_font(self.family_name, "B" if bold else "", size)
        self.set_text_color(*colour)

    def line_of(self, text: str, size: float = 10, bold: bool = False, height: float = 5.2) -> None:
        self.font(size, bold)
        self.multi_cell(0, height, self.clean(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def labelled(self, label: str, text: str, size: float = 10) -> None:
        """``Label: text`` with the label bold, wrapping under the whole width."""
        self.font(size, bold=True)
        self.write(5.2, self.clean(f"{label}: "))
        self.font(size)
        self.write(5.2, self.clean(text))
        self.ln(5.6)

    def heading(self, text: str) -> None:
        if self.will_page_break(22):
            self.add_page()
        self.ln(2.5)
        self.font(11.5, bold=True)
        self.cell(0, 6.5, self.clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*_RULE)
        self.set_line_width(0.2)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(1.8)

    def bullets(self, lines: Sequence[str], empty: str) -> None:
        if not lines:
            self.line_of(empty)
            return
        bullet = "•" if self.unicode else "-"
        for line in lines:
            self.font(10)
            self.cell(5, 5.2, bullet)
            self.multi_cell(
                0, 5.2, self.clean(line), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
            )

    def footer(self) -> None:
        self.set_y(-12)
        self.font(8, colour=_MUTED)
        text = (
            f"{self.summary.centre} · outcome letter prepared {_date(self.summary.prepared_on)}"
            f" by {self.summary.prepared_by} · page {self.page_no()}/{{nb}}"
        )
        self.cell(0, 5, self.clean(text), align="C")


def _letterhead(pdf: _Letter, s: ClinicSummary) -> None:
    pdf.font(15, bold=True)
    pdf.cell(0, 8, pdf.clean(s.centre), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.font(10, colour=_MUTED)
    pdf.cell(0, 5, pdf.clean("Cancer of unknown primary (CUP) · multidisciplinary team"))
    pdf.cell(0, 5, pdf.clean(_date(s.prepared_on)), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.labelled("To", s.recipient or "The patient's general practitioner")
    pdf.labelled("Re", f"{s.patient_name}, born {_date(s.date_of_birth)}, hospital number {s.mrn}")
    pdf.ln(1)
    pdf.line_of(
        "This letter summarises the multidisciplinary team's discussion of your patient and "
        "the plan agreed."
    )


def _decisions(pdf: _Letter, s: ClinicSummary) -> None:
    latest = s.latest_decision
    pdf.heading("MDT discussion and decision")
    if latest is None:
        pdf.line_of("No decision has been recorded yet.")
    else:
        meeting = _date(latest.meeting_date or latest.decided_on)
        pdf.labelled("MDT date", meeting)
        if latest.attendees:
            pdf.labelled("Attendees", "; ".join(latest.attendees))
        if latest.chair:
            pdf.labelled("Chair", latest.chair)
        decision = latest.label + (f" ({latest.detail})" if latest.detail else "")
        pdf.labelled("Decision", decision)
        pdf.labelled("Rationale", latest.rationale)
        pdf.labelled("Plan", latest.plan or "—")
        if latest.ecog_at_decision is not None:
            pdf.labelled("ECOG at decision", str(latest.ecog_at_decision))
        if latest.treatment_started_on:
            pdf.labelled("Treatment started", _date(latest.treatment_started_on))
        if latest.follow_up_due:
            pdf.labelled("Follow-up due", _date(latest.follow_up_due))
    earlier = s.decisions[1:]
    if earlier:
        pdf.ln(1)
        pdf.line_of("Earlier decisions", bold=True)
        for d in earlier:
            text = f"{_date(d.decided_on)}: {d.label}" + (f" ({d.detail})" if d.detail else "")
            pdf.bullets([f"{text}. Rationale: {d.rationale}"], "")


def _draw_ecog(pdf: _Letter, series: Sequence[tuple[dt.date, int]]) -> None:
    """A small line chart: 0 (fully active) at the top, as on the case page, so a
    decline reads as a line going down [ECOG]."""
    width, height = 120.0, 42.0
    if pdf.will_page_break(height + 16):
        pdf.add_page()
    left = pdf.l_margin + 8
    top = pdf.get_y() + 2
    bottom = top + height
    pdf.set_line_width(0.15)
    for score in range(6):
        y = top + height * score / 5
        pdf.set_draw_color(*_GRID)
        pdf.line(left, y, left + width, y)
        pdf.font(7.5, colour=_MUTED)
        pdf.set_xy(left - 6, y - 2)
        pdf.cell(4, 4, str(score), align="R")
    pdf.font(7, colour=_MUTED)
    pdf.set_xy(left + width + 2, top - 2)
    pdf.cell(40, 4, pdf.clean("0 = fully active"))
    pdf.set_xy(left + width + 2, bottom - 2)
    pdf.cell(40, 4, pdf.clean("5 = dead"))
    pdf.set_draw_color(*_RULE)
    pdf.line(left, top, left, bottom)
    pdf.line(left, bottom, left + width, bottom)

    first, last = series[0][0], series[-1][0]
    span = max((last - first).days, 1)

    def point(day: dt.date, score: int) -> tuple[float, float]:
        x = left + width / 2 if first == last else left + width * (day - first).days / span
        return x, top + height * score / 5

    points = [point(day, score) for day, score in series]
    pdf.set_draw_color(*_LINE)
    pdf.set_fill_color(*_LINE)
    pdf.set_line_width(0.6)
    for (x1, y1), (x2, y2) in itertools.pairwise(points):
        pdf.line(x1, y1, x2, y2)
    label_points = len(points) <= 12
    for (x, y), (_, score) in zip(points, series, strict=True):
        pdf.circle(x, y, 1.1, style="F")
        if label_points:
            pdf.font(7.5, bold=True, colour=_LINE)
            pdf.set_xy(x - 3, y - 5.2 if y > top + 3 else y + 1.2)
            pdf.cell(6, 4, str(score), align="C")
    pdf.font(7.5, colour=_MUTED)
    pdf.set_xy(left - 2, bottom + 0.8)
    pdf.cell(30, 4, pdf.clean(_date(first)))
    if first != last:
        pdf.set_xy(left + width - 28, bottom + 0.8)
        pdf.cell(30, 4, pdf.clean(_date(last)), align="R")
    pdf.set_xy(pdf.l_margin, bottom + 6)


def _ecog(pdf: _Letter, s: ClinicSummary) -> None:
    pdf.heading("Performance status (ECOG) trend")
    if not s.ecog:
        pdf.line_of("No ECOG performance status recorded.")
        return
    _draw_ecog(pdf, s.ecog)
    values = " · ".join(f"{_date(day)}: {score}" for day, score in s.ecog)
    pdf.line_of(f"ECOG recorded: {values}", size=9)
    latest = s.ecog[-1][1]
    pdf.line_of(
        f"Latest: ECOG {latest} ({ECOG_GRADES.get(latest, '')}). "
        "Scale 0 fully active to 5 dead (Oken et al. 1982).",
        size=9,
    )


def outcome_letter_pdf(summary: ClinicSummary, *, unicode_font: bool = True) -> bytes:
    """The outcome letter as PDF bytes (A4, print-ready).

    ``unicode_font=False`` forces the core-font fallback (what a machine without
    DejaVu gets)."""
    font = find_unicode_font() if unicode_font else None
    pdf = _Letter(summary, font)
    pdf.add_page()
    _letterhead(pdf, summary)
    pdf.heading("Diagnosis")
    pdf.labelled("Working diagnosis", summary.diagnosis)
    if summary.sites:
        pdf.labelled("Metastatic sites", ", ".join(summary.sites))
    if summary.pathway_start:
        pdf.labelled("Pathway start (well-founded suspicion)", _date(summary.pathway_start))
    _decisions(pdf, summary)
    # The GP shares palliative and supportive care: what was asked, of whom, how far.
    pdf.heading("Referrals")
    pdf.bullets(summary.referrals, "No referral made beside the decision.")
    _ecog(pdf, summary)
    pdf.heading("Key findings")
    pdf.bullets(summary.findings, "No findings recorded yet.")
    pdf.heading("Workup outstanding")
    pdf.bullets(summary.outstanding, "None: the standard workup is complete.")
    pdf.heading("Contact")
    pdf.bullets(summary.contacts, summary.centre)
    for note in summary.notes:
        pdf.line_of(note, size=9)
    return bytes(pdf.output())
