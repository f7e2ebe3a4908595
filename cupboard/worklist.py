"""The navigator worklist: everything that needs a nurse's action, most urgent first.

Pure rules: plain rows in, prioritised items out (no database, no Streamlit). The
service ``cupboard.services.worklist`` fetches only candidate rows, using the cut-off
dates of :func:`cutoffs`, so that the SQL filter and these rules share one source.

What is on the list (issue 5, docs/clinical-rules.md section 1):

- an investigation *requested* more than ``request_not_booked_days`` ago and still not
  booked;
- an investigation *booked* whose appointment date has passed without it being done;
- a result *reported* but not yet reviewed by the responsible clinician;
- a case whose pathway clock is near (within ``near_target_days``) or past its SVF
  lead-time target;
- a case *ready for MDT* that is on no upcoming agenda;
- a decision whose follow-up is overdue, or a treatment decision with no treatment
  start recorded ``treatment_start_days`` after it;
- a referral beside the decision requested more than ``referral_accept_days`` ago and
  not yet accepted, seen or declined; and a referral the guidance suggested (palliative
  care, genetics: docs/clinical-rules.md section 11) that was not made when the board
  decided (issue 21).

Urgency: days overdue first (a negative number is the days left before the target),
then the pathway clock (longest on the pathway first).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cupboard.knowledge.decisions import DECISION_KINDS_BY_CODE, DECISION_LABELS
from cupboard.knowledge.investigations import INVESTIGATIONS, INVESTIGATIONS_BY_CODE
from cupboard.knowledge.pathway import DEFAULT_LEAD_TIMES, DEFAULT_PARTIAL_LEAD_TIMES, LeadTime
from cupboard.knowledge.referrals import (
    REFERRAL_KIND_LABELS,
    REFERRAL_OVERDUE_DAYS,
    REFERRAL_PROMPT_DAYS,
)

# A request should be booked within the SVF partial lead time from block A (history,
# bloods) to block B (CT + biopsy): 5 calendar days [SVF]. A request older than this
# and still unbooked puts the whole pathway at risk.
REQUEST_NOT_BOOKED_DAYS = DEFAULT_PARTIAL_LEAD_TIMES["block_a_to_b"]

# "Near" a lead-time target: 5 calendar days or fewer left (issue 5).
NEAR_TARGET_DAYS = 5

# A treatment should start within 14 days of the decision: the SVF partial lead time
# decision -> start of radiotherapy [SVF], applied to every treatment decision as the
# point at which a missing start date needs chasing.
TREATMENT_START_DAYS = DEFAULT_PARTIAL_LEAD_TIMES["decision_to_radiotherapy"]

# Before the board has decided, the first treatment is not known. Most CUP (~80 %,
# unfavourable) is treated with drugs [ESMO23], so the drug-therapy target applies.
EXPECTED_FIRST_TREATMENT = "drug_therapy"

# SVF blocks D (site- or symptom-directed tests) and E (PET-CT) make a workup
# "extended", with a 20-day longer lead time [SVF]; an investigation counts once it
# has been requested.
EXTENDED_WORKUP_BLOCKS = frozenset({"D", "E"})
EXTENDED_WORKUP_CODES: frozenset[str] = frozenset(
    i.code for i in INVESTIGATIONS if i.pathway_block in EXTENDED_WORKUP_BLOCKS
)
USED_INVESTIGATION_STATUSES = frozenset({"requested", "booked", "done", "reported"})

# A case that is closed needs nothing; one in treatment has its clock stopped.
CLOSED_STATUS = "closed"
CLOCK_STOPPED_STATUSES = frozenset({"in_treatment", CLOSED_STATUS})
READY_FOR_MDT_STATUS = "ready_for_mdt"
# Best supportive care has its own target in the lead-time table and no later
# "start": the decision itself ends the clock, and no start date is chased.
BEST_SUPPORTIVE_CARE = "best_supportive_care"

TREATMENT_LABELS: dict[str, str] = {
    "drug_therapy": "drug therapy",
    "radiotherapy": "radiotherapy",
    "surgery": "surgery",
    "best_supportive_care": "best supportive care",
}


@dataclass(frozen=True)
class WorklistKind:
    code: str
    label: str
    source: str  # a tag of cupboard.knowledge.sources, or "local" for house policy


WORKLIST_KINDS: tuple[WorklistKind, ...] = (
    WorklistKind("request_not_booked", "Requested, not booked", "SVF"),
    WorklistKind("booking_overdue", "Appointment passed, not done", "local"),
    WorklistKind("result_not_reviewed", "Result not reviewed", "local"),
    WorklistKind("pathway_clock", "Pathway clock", "SVF"),
    WorklistKind("not_on_agenda", "Ready for MDT, not on an agenda", "SVF"),
    WorklistKind("follow_up_overdue", "Follow-up overdue", "local"),
    WorklistKind("treatment_not_started", "Treatment start not recorded", "SVF"),
    WorklistKind("referral_not_accepted", "Referral not accepted", "local"),
    WorklistKind("referral_not_made", "Suggested referral not made", "local"),
)
WORKLIST_KIND_LABELS: dict[str, str] = {k.code: k.label for k in WORKLIST_KINDS}
_KIND_ORDER: dict[str, int] = {k.code: n for n, k in enumerate(WORKLIST_KINDS)}
INVESTIGATION_KINDS = frozenset({"request_not_booked", "booking_overdue", "result_not_reviewed"})


@dataclass(frozen=True)
class WorklistPolicy:
    """The thresholds of the rules; the defaults carry their sources (above)."""

    request_not_booked_days: int = REQUEST_NOT_BOOKED_DAYS
    near_target_days: int = NEAR_TARGET_DAYS
    treatment_start_days: int = TREATMENT_START_DAYS
    expected_first_treatment: str = EXPECTED_FIRST_TREATMENT
    lead_times: tuple[LeadTime, ...] = DEFAULT_LEAD_TIMES
    referral_accept_days: int = REFERRAL_OVERDUE_DAYS
    referral_prompt_days: int = REFERRAL_PROMPT_DAYS

    def lead_time(self, first_treatment: str) -> LeadTime:
        for lead_time in self.lead_times:
            if lead_time.first_treatment == first_treatment:
                return lead_time
        raise KeyError(f"no lead-time target for {first_treatment!r}")


# Plain input rows -----------------------------------------------------------------


@dataclass(frozen=True)
class CaseRow:
    case_id: int
    pseudonym: str
    status: str
    pathway_start: dt.date
    navigator_id: int | None = None
    navigator_name: str | None = None
    # Any block D/E investigation requested or further (see EXTENDED_WORKUP_CODES).
    extended_workup: bool = False
    # On the agenda of a meeting dated today or later.
    on_upcoming_agenda: bool = False


@dataclass(frozen=True)
class InvestigationRow:
    investigation_id: int
    version: int
    case_id: int
    code: str
    status: str
    requested_on: dt.date | None = None
    booked_for: dt.date | None = None
    done_on: dt.date | None = None
    reported_on: dt.date | None = None
    reviewed_on: dt.date | None = None


@dataclass(frozen=True)
class DecisionRow:
    decision_id: int
    version: int
    case_id: int
    code: str
    decided_on: dt.date
    treatment_started_on: dt.date | None = None
    follow_up_due: dt.date | None = None
    follow_up_done_on: dt.date | None = None
    superseded: bool = False


@dataclass(frozen=True)
class ReferralRow:
    """A referral beside the decision (cupboard/knowledge/referrals.py)."""

    referral_id: int
    version: int
    case_id: int
    kind: str
    status: str
    requested_on: dt.date
    detail: str | None = None

    @property
    def label(self) -> str:
        kind = REFERRAL_KIND_LABELS.get(self.kind, self.kind)
        return f"{kind} ({self.detail})" if self.detail else kind


@dataclass(frozen=True)
class PromptedReferral:
    """A referral the guidance suggests for a case (its ``referrals_to_consider``)."""

    case_id: int
    kind: str
    reason: str


# Output ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WorklistItem:
    kind: str
    case_id: int
    pseudonym: str
    navigator_id: int | None
    navigator_name: str | None
    what: str  # the investigation, decision or "Pathway clock"
    detail: str
    due_on: dt.date | None
    days_overdue: int  # negative: days left before the target
    pathway_day: int
    investigation_id: int | None = None
    decision_id: int | None = None
    version: int | None = None  # of the investigation, decision or referral, as read
    referral_id: int | None = None

    @property
    def kind_label(self) -> str:
        return WORKLIST_KIND_LABELS[self.kind]

    @property
    def key(self) -> str:
        """Unique per item: one row may appear once per kind."""
        row = self.investigation_id or self.decision_id or self.referral_id or 0
        # A suggested referral not made has no row: the kind it suggests tells them apart.
        suffix = f":{self.what}" if self.kind == "referral_not_made" else ""
        return f"{self.kind}:{self.case_id}:{row}{suffix}"


def urgency_key(item: WorklistItem) -> tuple[int, int, int, int, str]:
    """Most days overdue first, then the longest pathway clock, then a stable order."""
    return (-item.days_overdue, -item.pathway_day, _KIND_ORDER[item.kind], item.case_id, item.key)


# Cut-offs shared with the SQL filter ----------------------------------------------


@dataclass(frozen=True)
class Cutoffs:
    """Dates the service filters on; each rule below uses the same comparison."""

    requested_before: dt.date  # requested_on < this: unbooked too long
    booked_before: dt.date  # booked_for < this: appointment passed
    follow_up_before: dt.date  # follow_up_due < this: follow-up overdue
    decided_before: dt.date  # decided_on < this: treatment start overdue
    pathway_started_on_or_before: dt.date  # pathway_start <= this: clock may be near
    referral_requested_before: dt.date  # requested_on < this: referral not accepted
    prompts_decided_on_or_after: dt.date  # decided_on >= this: suggestions still chased


def cutoffs(today: dt.date, policy: WorklistPolicy) -> Cutoffs:
    shortest = min(lt.basic_workup_days for lt in policy.lead_times)
    return Cutoffs(
        requested_before=today - dt.timedelta(days=policy.request_not_booked_days),
        booked_before=today,
        follow_up_before=today,
        decided_before=today - dt.timedelta(days=policy.treatment_start_days),
        pathway_started_on_or_before=today - dt.timedelta(days=shortest - policy.near_target_days),
        referral_requested_before=today - dt.timedelta(days=policy.referral_accept_days),
        prompts_decided_on_or_after=today - dt.timedelta(days=policy.referral_prompt_days),
    )


# The rules ------------------------------------------------------------------------


def _days(later: dt.date, earlier: dt.date) -> int:
    return (later - earlier).days


def _current(decisions: Iterable[DecisionRow]) -> list[DecisionRow]:
    """A case's decisions that still stand, oldest first (amended ones are superseded)."""
    return sorted(
        (d for d in decisions if not d.superseded), key=lambda d: (d.decided_on, d.decision_id)
    )


def first_treatment(decisions: Sequence[DecisionRow], policy: WorklistPolicy) -> str:
    """The first-treatment class whose lead time applies: that of the latest decision
    naming a treatment [SVF], else the expected one (drug therapy) before a decision."""
    for decision in reversed(_current(decisions)):
        kind = DECISION_KINDS_BY_CODE.get(decision.code)
        if kind is not None and kind.treatment_class is not None:
            return kind.treatment_class
    return policy.expected_first_treatment


def clock_stopped(case: CaseRow, decisions: Sequence[DecisionRow]) -> bool:
    """The SVF clock runs from day 0 to the start of first treatment [SVF]."""
    if case.status in CLOCK_STOPPED_STATUSES:
        return True
    return any(
        d.treatment_started_on is not None or d.code == BEST_SUPPORTIVE_CARE
        for d in _current(decisions)
    )


def lead_time_target(
    case: CaseRow, decisions: Sequence[DecisionRow], policy: WorklistPolicy
) -> tuple[int, str]:
    """Target days for this case and a short description of why that target."""
    treatment = first_treatment(decisions, policy)
    lead_time = policy.lead_time(treatment)
    if case.extended_workup:
        return lead_time.extended_workup_days, f"{TREATMENT_LABELS[treatment]}, extended workup"
    return lead_time.basic_workup_days, f"{TREATMENT_LABELS[treatment]}, basic workup"


def _investigation_item(
    row: InvestigationRow, case: CaseRow, today: dt.date, policy: WorklistPolicy
) -> WorklistItem | None:
    known = INVESTIGATIONS_BY_CODE.get(row.code)
    label = known.label if known is not None else row.code
    kind, due, detail = None, None, ""
    if row.status == "requested" and row.requested_on is not None:
        due = row.requested_on + dt.timedelta(days=policy.request_not_booked_days)
        if due < today:
            kind = "request_not_booked"
            detail = f"requested {row.requested_on.isoformat()}, not booked"
    elif row.status == "booked" and row.booked_for is not None:
        due = row.booked_for
        if due < today:
            kind = "booking_overdue"
            detail = f"booked for {row.booked_for.isoformat()}, not recorded as done"
    elif row.status == "reported" and row.reviewed_on is None:
        due = row.reported_on or today
        kind = "result_not_reviewed"
        reported = row.reported_on.isoformat() if row.reported_on else "on an unknown date"
        detail = f"reported {reported}, not reviewed"
    if kind is None or due is None:
        return None
    return _case_item(
        case,
        today,
        kind,
        label,
        detail,
        due,
        investigation_id=row.investigation_id,
        version=row.version,
    )


def _case_item(
    case: CaseRow, today: dt.date, kind: str, what: str, detail: str, due: dt.date, **ids: int
) -> WorklistItem:
    """A worklist item about a case; ``ids`` name the investigation, decision or referral
    it is about, when it is about one."""
    return WorklistItem(
        kind=kind,
        case_id=case.case_id,
        pseudonym=case.pseudonym,
        navigator_id=case.navigator_id,
        navigator_name=case.navigator_name,
        what=what,
        detail=detail,
        due_on=due,
        days_overdue=_days(today, due),
        pathway_day=_days(today, case.pathway_start),
        **ids,  # type: ignore[arg-type]
    )


def _case_items(
    case: CaseRow, decisions: Sequence[DecisionRow], today: dt.date, policy: WorklistPolicy
) -> list[WorklistItem]:
    items: list[WorklistItem] = []
    pathway_day = _days(today, case.pathway_start)

    item = functools.partial(_case_item, case, today)

    if not clock_stopped(case, decisions):
        target, why = lead_time_target(case, decisions, policy)
        due = case.pathway_start + dt.timedelta(days=target)
        left = _days(due, today)
        if left <= policy.near_target_days:
            state = f"{-left} days past target" if left < 0 else f"{left} days left"
            detail = f"pathway day {pathway_day} of {target} ({why}): {state}"
            items.append(item("pathway_clock", "Pathway clock", detail, due))
    if case.status == READY_FOR_MDT_STATUS and not case.on_upcoming_agenda:
        detail = "ready for MDT but on no upcoming meeting's agenda"
        items.append(item("not_on_agenda", "MDT agenda", detail, today))
    for decision in _current(decisions):
        label = DECISION_LABELS.get(decision.code, decision.code)
        ids = {"decision_id": decision.decision_id, "version": decision.version}
        due_follow_up = decision.follow_up_due
        if (
            due_follow_up is not None
            and decision.follow_up_done_on is None
            and due_follow_up < today
        ):
            detail = f"follow-up due {due_follow_up.isoformat()}, not recorded as done"
            items.append(item("follow_up_overdue", label, detail, due_follow_up, **ids))
        kind = DECISION_KINDS_BY_CODE.get(decision.code)
        treats = kind is not None and kind.treatment_class not in (None, BEST_SUPPORTIVE_CARE)
        if treats and decision.treatment_started_on is None:
            due_start = decision.decided_on + dt.timedelta(days=policy.treatment_start_days)
            if due_start < today:
                detail = (
                    f"decided {decision.decided_on.isoformat()}; no treatment start recorded "
                    f"after {policy.treatment_start_days} days"
                )
                items.append(item("treatment_not_started", label, detail, due_start, **ids))
    return items


def _referral_items(
    case: CaseRow,
    decisions: Sequence[DecisionRow],
    referrals: Sequence[ReferralRow],
    prompted: Sequence[PromptedReferral],
    today: dt.date,
    policy: WorklistPolicy,
) -> list[WorklistItem]:
    items: list[WorklistItem] = []
    item = functools.partial(_case_item, case, today)
    for referral in referrals:
        # Still only requested: the receiving service has not taken the patient on.
        due = referral.requested_on + dt.timedelta(days=policy.referral_accept_days)
        if referral.status == "requested" and due < today:
            detail = (
                f"requested {referral.requested_on.isoformat()}, not accepted after "
                f"{policy.referral_accept_days} days"
            )
            ids = {"referral_id": referral.referral_id, "version": referral.version}
            items.append(item("referral_not_accepted", referral.label, detail, due, **ids))
    current = _current(decisions)
    window = dt.timedelta(days=policy.referral_prompt_days)
    if current and current[-1].decided_on >= today - window:
        # The board has decided: a referral the guidance suggested and nobody made is
        # a question for the navigator to take back to the responsible doctor.
        decided_on = current[-1].decided_on
        made = {r.kind for r in referrals}
        for prompt in prompted:
            if prompt.kind in made:
                continue
            label = REFERRAL_KIND_LABELS.get(prompt.kind, prompt.kind)
            detail = (
                f"suggested ({prompt.reason}); no referral made since the decision of "
                f"{decided_on.isoformat()}"
            )
            items.append(item("referral_not_made", label, detail, decided_on))
    return items


def build_worklist(
    cases: Iterable[CaseRow],
    investigations: Iterable[InvestigationRow],
    decisions: Iterable[DecisionRow],
    today: dt.date,
    policy: WorklistPolicy | None = None,
    referrals: Iterable[ReferralRow] = (),
    prompted: Iterable[PromptedReferral] = (),
) -> list[WorklistItem]:
    """Every item needing action for these cases, most urgent first.

    ``cases`` must hold the case of every investigation, decision and referral given;
    a decision list must be complete for its case (the lead time depends on it), and
    so must a referral list for a case with prompts (a referral made silences its
    prompt). Closed cases yield nothing.
    """
    policy = policy or WorklistPolicy()
    by_case = {c.case_id: c for c in cases}
    decisions_by_case: dict[int, list[DecisionRow]] = {case_id: [] for case_id in by_case}
    for decision in decisions:
        decisions_by_case[decision.case_id].append(decision)
    items: list[WorklistItem] = []
    for row in investigations:
        case = by_case[row.case_id]
        if case.status == CLOSED_STATUS:
            continue
        found = _investigation_item(row, case, today, policy)
        if found is not None:
            items.append(found)
    referrals_by_case: dict[int, dict[int, ReferralRow]] = {case_id: {} for case_id in by_case}
    for referral in referrals:
        referrals_by_case[referral.case_id][referral.referral_id] = referral
    prompted_by_case: dict[int, list[PromptedReferral]] = {case_id: [] for case_id in by_case}
    for prompt in prompted:
        prompted_by_case[prompt.case_id].append(prompt)
    for case in by_case.values():
        if case.status != CLOSED_STATUS:
            case_decisions = decisions_by_case[case.case_id]
            items.extend(_case_items(case, case_decisions, today, policy))
            items.extend(
                _referral_items(
                    case,
                    case_decisions,
                    list(referrals_by_case[case.case_id].values()),
                    prompted_by_case[case.case_id],
                    today,
                    policy,
                )
            )
    return sorted(items, key=urgency_key)


@dataclass(frozen=True)
class WorklistCounts:
    by_kind: dict[str, int] = field(default_factory=dict)
    overdue: int = 0


def count_items(items: Iterable[WorklistItem]) -> WorklistCounts:
    by_kind: dict[str, int] = {k.code: 0 for k in WORKLIST_KINDS}
    overdue = 0
    for item in items:
        by_kind[item.kind] += 1
        overdue += item.days_overdue > 0
    return WorklistCounts(by_kind, overdue)


def rule_descriptions(policy: WorklistPolicy | None = None) -> list[tuple[str, str]]:
    """What puts a row on the list, with the threshold in force and its basis."""
    policy = policy or WorklistPolicy()
    targets = "; ".join(
        f"{TREATMENT_LABELS[lt.first_treatment]} {lt.basic_workup_days}/"
        f"{lt.extended_workup_days} days"
        for lt in policy.lead_times
    )
    return [
        (
            WORKLIST_KIND_LABELS["request_not_booked"],
            f"requested more than {policy.request_not_booked_days} days ago and not booked "
            "(SVF partial lead time block A → B)",
        ),
        (
            WORKLIST_KIND_LABELS["booking_overdue"],
            "booked, the appointment date has passed, not recorded as done",
        ),
        (
            WORKLIST_KIND_LABELS["result_not_reviewed"],
            "reported and not yet marked reviewed; days counted from the report",
        ),
        (
            WORKLIST_KIND_LABELS["pathway_clock"],
            f"{policy.near_target_days} days or fewer left before the SVF lead time from "
            f"well-founded suspicion to first treatment (basic/extended workup: {targets}); "
            f"before a decision the {TREATMENT_LABELS[policy.expected_first_treatment]} "
            "target applies",
        ),
        (
            WORKLIST_KIND_LABELS["not_on_agenda"],
            "status 'ready for MDT' and on no agenda of a meeting today or later",
        ),
        (
            WORKLIST_KIND_LABELS["follow_up_overdue"],
            "the decision's follow-up date has passed and no follow-up is recorded",
        ),
        (
            WORKLIST_KIND_LABELS["treatment_not_started"],
            f"a treatment decision with no treatment start recorded after "
            f"{policy.treatment_start_days} days (SVF decision → start of radiotherapy)",
        ),
        (
            WORKLIST_KIND_LABELS["referral_not_accepted"],
            f"a referral beside the decision requested more than "
            f"{policy.referral_accept_days} days ago and not yet accepted, seen or declined "
            "(project reading: chased before the next board review)",
        ),
        (
            WORKLIST_KIND_LABELS["referral_not_made"],
            "the guidance suggested a referral (palliative care, genetics) and none of that "
            "kind was made by the time the board decided; listed for "
            f"{policy.referral_prompt_days} days after the latest decision (project reading)",
        ),
    ]
