"""Referrals made beside the treatment decision: care that runs alongside whatever the
board decides (docs/clinical-rules.md section 11).

A CUP diagnosis is uncertain and often carries a short prognosis: palliative care belongs
"from diagnosis onward" [SVF], [FERRELL17], psychological support beside any treatment
[SVF], and some findings call for a referral of their own (MSI-H or dMMR: germline testing
for Lynch syndrome [ESMO19HGI]). The guidance *prompts* a referral; a clinician makes it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReferralKind:
    code: str
    label: str
    source: str
    # What must be named with it: the centre for a second opinion, the service for
    # "other"; None when the kind says it all.
    detail_label: str | None = None


REFERRAL_KINDS: tuple[ReferralKind, ...] = (
    ReferralKind("palliative_care", "Palliative care", "FERRELL17"),
    ReferralKind("psycho_oncology", "Psycho-oncology", "SVF"),
    ReferralKind("clinical_genetics", "Clinical genetics / germline testing", "ESMO19HGI"),
    ReferralKind("dietitian", "Dietitian", "SVF"),
    ReferralKind("rehabilitation", "Rehabilitation", "SVF"),
    # A patient or referrer asking: a second opinion at a CUP centre, records and tissue
    # sent [SVF], [NICE].
    ReferralKind("second_opinion", "Second opinion", "NICE", "Centre"),
    ReferralKind("other", "Other", "SVF", "Service"),
)
REFERRAL_KIND_CODES: tuple[str, ...] = tuple(k.code for k in REFERRAL_KINDS)
REFERRAL_KINDS_BY_CODE: dict[str, ReferralKind] = {k.code: k for k in REFERRAL_KINDS}
REFERRAL_KIND_LABELS: dict[str, str] = {k.code: k.label for k in REFERRAL_KINDS}


@dataclass(frozen=True)
class ReferralStatus:
    code: str
    label: str
    is_open: bool  # still waiting on the receiving service or the patient


# A navigator moves a referral on: requested -> accepted / seen -> closed, or the patient
# declines it [SVF: the contact nurse coordinates the pathway].
REFERRAL_STATUSES: tuple[ReferralStatus, ...] = (
    ReferralStatus("requested", "Requested", True),
    ReferralStatus("accepted", "Accepted", True),
    ReferralStatus("seen", "Seen", True),
    ReferralStatus("closed", "Closed", False),
    ReferralStatus("declined_by_patient", "Declined by the patient", False),
)
REFERRAL_STATUS_CODES: tuple[str, ...] = tuple(s.code for s in REFERRAL_STATUSES)
REFERRAL_STATUS_LABELS: dict[str, str] = {s.code: s.label for s in REFERRAL_STATUSES}

# Where a status may go next. A patient may decline at any point before the referral is
# closed; a service may see a patient without a separate acceptance.
REFERRAL_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "requested": ("accepted", "seen", "declined_by_patient"),
    "accepted": ("seen", "closed", "declined_by_patient"),
    "seen": ("closed",),
    "closed": (),
    "declined_by_patient": (),
}

# ---------------------------------------------------------------------------------
# Prompts: when the record supports a referral the guidance suggests it.

# The kinds the guidance may suggest; the worklist looks for these among the referrals
# made (a case with one of each has no suggestion left unmade).
PROMPTED_REFERRAL_KINDS: tuple[str, ...] = ("palliative_care", "clinical_genetics")

# MSI-H or dMMR without a known germline result: germline testing for Lynch syndrome
# [ESMO19HGI]; a tumour-agnostic immunotherapy biomarker is also a hereditary one.
GENETICS_BIOMARKERS: tuple[str, ...] = ("MSI-H", "dMMR")
# Cancer before 50 is the revised Bethesda criterion for Lynch testing [ESMO19HGI].
# Project reading: applied to CUP at any site, adults only (under 18 goes to paediatric
# oncology, which refers on its own).
GENETICS_YOUNGER_THAN = 50
# ECOG 2 or worse, or an unfavourable presentation: palliative care early, beside any
# treatment [FERRELL17]; "from diagnosis onward" [SVF].
PALLIATIVE_MIN_ECOG = 2

# A referral requested but not accepted after this many days appears on the navigator's
# worklist. Project reading, not from the sources: two weeks, so that a stalled referral
# is chased before the patient's next board review; a clinician should confirm it locally.
REFERRAL_OVERDUE_DAYS = 14
# A suggested referral nobody made stays on the worklist this many days after the board's
# latest decision. Project reading, not from the sources: long enough to reach the first
# response review after a decision (usually after two or three cycles), where the board
# weighs supportive care again; a clinician should confirm it locally.
REFERRAL_PROMPT_DAYS = 90
