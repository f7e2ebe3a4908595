"""Service analytics: the numbers a service lead puts in a quarterly report.

Pure functions: pandas frames in, numbers and small frames out; no Streamlit and no
database. :mod:`cupboard.services.analytics` loads frames of exactly these shapes:

``cases`` (one row per case in the cohort)
    case_id, pathway_start, first_mdt_on, first_extended_workup_on,
    primary_found_site, primary_found_by
``decisions`` (current decisions, superseded ones left out)
    case_id, decision_id, code, local_modality, decided_on, treatment_started_on
``workup`` (investigations of the cohort's cases)
    case_id, code, status, done_on, reported_on
``agenda`` (agenda items of meetings held)
    meeting_id, meeting_date, case_id, discussion_started_at, discussion_ended_at

Dates may be ``datetime.date`` objects, ISO strings or timestamps; missing is None.
Day 0 is the pathway start (the decision of well-founded suspicion) [SVF]. A share is a
fraction 0..1, and None (NaN in a frame) when there is nothing to divide by.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from cupboard.guidance import CaseProfile, favourable_subtype
from cupboard.knowledge.decisions import DECISION_KINDS_BY_CODE, DECISION_LABELS
from cupboard.knowledge.favourable_subtypes import FAVOURABLE_SUBTYPES
from cupboard.knowledge.investigations import INVESTIGATIONS, INVESTIGATIONS_BY_CODE
from cupboard.knowledge.pathway import LeadTime
from cupboard.knowledge.sites import PRIMARY_SITES

CASE_COLUMNS: tuple[str, ...] = (
    "case_id",
    "pathway_start",
    "first_mdt_on",
    "first_extended_workup_on",
    "primary_found_site",
    "primary_found_by",
)
DECISION_COLUMNS: tuple[str, ...] = (
    "case_id",
    "decision_id",
    "code",
    "local_modality",
    "decided_on",
    "treatment_started_on",
)
WORKUP_COLUMNS: tuple[str, ...] = ("case_id", "code", "status", "done_on", "reported_on")
AGENDA_COLUMNS: tuple[str, ...] = (
    "meeting_id",
    "meeting_date",
    "case_id",
    "discussion_started_at",
    "discussion_ended_at",
)

# Investigations of SVF blocks D (site- or symptom-directed) and E (PET-CT) make a
# workup "extended", which has the longer lead time [SVF].
EXTENDED_WORKUP_BLOCKS: frozenset[str] = frozenset({"D", "E"})
EXTENDED_WORKUP_CODES: tuple[str, ...] = tuple(
    i.code for i in INVESTIGATIONS if i.pathway_block in EXTENDED_WORKUP_BLOCKS
)

# The first-treatment classes of the SVF lead times [SVF].
TREATMENT_CLASS_LABELS: dict[str, str] = {
    "drug_therapy": "Drug therapy",
    "radiotherapy": "Radiotherapy",
    "surgery": "Surgery",
    "best_supportive_care": "Best supportive care",
}
ALL_CLASSES = "all"

# Investigations that leave nothing to wait for: their absence at the MDT is not a gap.
NOT_EXPECTED_STATUSES: frozenset[str] = frozenset({"not_indicated", "declined"})

OTHER_DECISIONS = "other"
DECISION_MIX_GROUPS: tuple[str, ...] = (
    "site_specific",
    "empiric_platinum_taxane",
    "immunotherapy",
    "targeted_therapy",
    "local_therapy",
    "best_supportive_care",
    OTHER_DECISIONS,
)
DECISION_MIX_LABELS: dict[str, str] = {
    **{code: DECISION_LABELS[code] for code in DECISION_MIX_GROUPS[:-1]},
    OTHER_DECISIONS: "Other ("
    + ", ".join(
        label.lower() for code, label in DECISION_LABELS.items() if code not in DECISION_MIX_GROUPS
    )
    + ")",
}

UNFAVOURABLE = "unfavourable"
FAVOURABLE_LABELS: dict[str, str] = {s.code: s.label for s in FAVOURABLE_SUBTYPES} | {
    UNFAVOURABLE: "Unfavourable (no favourable subtype)"
}
NOT_RECORDED = "Not recorded"

Endpoint = Literal["decision", "treatment"]
ENDPOINT_LABELS: dict[str, str] = {
    "decision": "Treatment decision",
    "treatment": "Start of treatment",
}
Frequency = Literal["month", "quarter"]
PERIOD_PRESETS: dict[str, str] = {
    "last_12_months": "Last 12 months",
    "this_quarter": "This quarter",
    "last_quarter": "Last full quarter",
    "this_year": "This year",
    "last_year": "Last year",
    "all_time": "All time",
    "custom": "Custom dates",
}


# ---------------------------------------------------------------------------------
# Small helpers


def share(part: float, whole: float) -> float | None:
    """``part / whole``, or None when ``whole`` is zero (nothing to divide)."""
    return None if not whole else part / whole


def median_or_none(values: pd.Series) -> float | None:
    clean = pd.to_numeric(values, errors="coerce").dropna()
    return None if clean.empty else float(clean.median())


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, errors="coerce")


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    """Whole calendar days from ``earlier`` to ``later``; <NA> where either is missing."""
    return (later - earlier).dt.days.astype("Int64")


def _frame(frame: pd.DataFrame | None, columns: Sequence[str]) -> pd.DataFrame:
    if frame is None or frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {', '.join(missing)}")
    return frame.reset_index(drop=True)


def period_bounds(
    preset: str, today: dt.date, earliest: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """First and last day (inclusive) of a named reporting period."""
    quarter_start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    if preset == "last_12_months":
        month = today.month - 11
        year = today.year + (month - 1) // 12
        return dt.date(year, (month - 1) % 12 + 1, 1), today
    if preset == "this_quarter":
        return quarter_start, today
    if preset == "last_quarter":
        end = quarter_start - dt.timedelta(days=1)
        return dt.date(end.year, end.month - 2, 1), end
    if preset == "this_year":
        return dt.date(today.year, 1, 1), today
    if preset == "last_year":
        return dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)
    if preset == "all_time":
        return min(earliest or today, today), today
    raise ValueError(f"unknown period {preset!r}; custom dates are given directly")


# ---------------------------------------------------------------------------------
# Lead times [SVF]


def treatment_class(code: str | None, local_modality: str | None = None) -> str | None:
    """The SVF first-treatment class of a decision; None when it starts no treatment.

    Local therapy is radiotherapy in the catalogue unless the board chose surgery.
    """
    kind = DECISION_KINDS_BY_CODE.get(code or "")
    if kind is None or kind.treatment_class is None:
        return None
    if code == "local_therapy" and local_modality == "surgery":
        return "surgery"
    return kind.treatment_class


def lead_times(
    cases: pd.DataFrame,
    decisions: pd.DataFrame,
    targets: Sequence[LeadTime],
    today: dt.date,
    endpoint: Endpoint = "decision",
) -> pd.DataFrame:
    """One row per case: days from pathway start to the first MDT, the first decision
    and the lead-time endpoint, with the SVF target that applies and whether it was met.

    The endpoint is the first decision that starts a treatment (``decision``) or the
    start of that treatment (``treatment``; for best supportive care the decision is
    its start). The target is that treatment class's, extended when a block D/E
    investigation was done by the endpoint (or by today, if not reached). A case that
    has not reached the endpoint has no verdict yet: ``within_target`` is <NA>.
    """
    if endpoint not in ENDPOINT_LABELS:
        raise ValueError(f"unknown endpoint {endpoint!r}")
    cases = _frame(cases, CASE_COLUMNS)
    decisions = _frame(decisions, DECISION_COLUMNS).copy()
    today_ts = pd.Timestamp(today)

    decisions["decided_on"] = _dates(decisions["decided_on"])
    decisions["treatment_started_on"] = _dates(decisions["treatment_started_on"])
    decisions["treatment_class"] = [
        treatment_class(code, modality)
        for code, modality in zip(decisions["code"], decisions["local_modality"], strict=True)
    ]
    first_decision = (
        decisions.dropna(subset=["decided_on"])
        .groupby("case_id")["decided_on"]
        .min()
        .rename("first_decision_on")
    )
    first_treatment = (
        decisions[decisions["treatment_class"].notna()]
        .sort_values(["decided_on", "decision_id"])
        .drop_duplicates("case_id")
        .set_index("case_id")[["code", "treatment_class", "decided_on", "treatment_started_on"]]
        .rename(columns={"code": "treatment_code", "decided_on": "treatment_decided_on"})
    )

    out = pd.DataFrame({"case_id": cases["case_id"]})
    start = _dates(cases["pathway_start"])
    first_mdt = _dates(cases["first_mdt_on"])
    extended_on = _dates(cases["first_extended_workup_on"])
    out["pathway_start"] = start
    out = out.join(first_decision, on="case_id").join(first_treatment, on="case_id")
    out["first_mdt_on"] = first_mdt
    for column in ("first_decision_on", "treatment_decided_on", "treatment_started_on"):
        out[column] = _dates(out[column])

    if endpoint == "decision":
        endpoint_on = out["treatment_decided_on"]
    else:
        supportive = out["treatment_class"] == "best_supportive_care"
        endpoint_on = out["treatment_started_on"].where(
            ~supportive | out["treatment_started_on"].notna(), out["treatment_decided_on"]
        )
    out["endpoint_on"] = endpoint_on
    out["days_to_first_mdt"] = _days(first_mdt, start)
    out["days_to_first_decision"] = _days(out["first_decision_on"], start)
    out["days_to_endpoint"] = _days(endpoint_on, start)
    out["extended_workup"] = (
        extended_on.notna() & (extended_on <= endpoint_on.fillna(today_ts))
    ).to_numpy()

    by_class = {t.first_treatment: t for t in targets}

    def target(row_class: object, extended: bool) -> int | None:
        lead = by_class.get(row_class) if isinstance(row_class, str) else None
        if lead is None:
            return None
        return lead.extended_workup_days if extended else lead.basic_workup_days

    out["target_days"] = pd.array(
        [
            target(c, bool(e))
            for c, e in zip(out["treatment_class"], out["extended_workup"], strict=True)
        ],
        dtype="Int64",
    )
    reached = out["days_to_endpoint"].notna()
    out["reached_endpoint"] = reached.to_numpy()
    verdict = out["days_to_endpoint"] <= out["target_days"]
    out["within_target"] = verdict.where(reached & out["target_days"].notna(), pd.NA).astype(
        "boolean"
    )
    out["days_waiting"] = _days(pd.Series(today_ts, index=out.index), start).where(~reached)
    return out[
        [
            "case_id",
            "pathway_start",
            "first_mdt_on",
            "first_decision_on",
            "treatment_code",
            "treatment_class",
            "treatment_decided_on",
            "treatment_started_on",
            "endpoint_on",
            "extended_workup",
            "target_days",
            "days_to_first_mdt",
            "days_to_first_decision",
            "days_to_endpoint",
            "within_target",
            "days_waiting",
        ]
    ]


def within_target_by_class(lead: pd.DataFrame, targets: Sequence[LeadTime]) -> pd.DataFrame:
    """Per first-treatment class (and all together): cases that reached the endpoint,
    how many within their target, and the share (NaN when none reached it)."""
    rows = []
    if lead.empty:
        judged = pd.DataFrame({"treatment_class": [], "within_target": []})
    else:
        judged = lead[lead["within_target"].notna()]
    for lead_time in targets:
        group = judged[judged["treatment_class"] == lead_time.first_treatment]
        rows.append(_target_row(lead_time.first_treatment, group))
    rows.append(_target_row(ALL_CLASSES, judged))
    return pd.DataFrame(rows, columns=["treatment_class", "label", "cases", "within", "share"])


def _target_row(code: str, group: pd.DataFrame) -> dict[str, object]:
    cases = len(group)
    within = int(group["within_target"].astype(bool).sum()) if cases else 0
    label = TREATMENT_CLASS_LABELS.get(code, "All treatments" if code == ALL_CLASSES else code)
    ratio = share(within, cases)
    return {
        "treatment_class": code,
        "label": label,
        "cases": cases,
        "within": within,
        "share": float("nan") if ratio is None else ratio,
    }


def awaiting_endpoint(lead: pd.DataFrame, targets: Sequence[LeadTime]) -> tuple[int, int]:
    """Cases that have not reached the endpoint, and how many of them are already past
    the longest target of all (so out of target whatever treatment follows)."""
    if lead.empty:
        return 0, 0
    waiting = lead["days_waiting"].dropna()
    longest = max((t.extended_workup_days for t in targets), default=0)
    return len(waiting), int((waiting > longest).sum())


# ---------------------------------------------------------------------------------
# Workup at the first MDT


def _available_at_first_mdt(rows: pd.DataFrame) -> pd.Series:
    """Reported by the meeting day; an investigation with no report date counts when
    it was done by then (a done-but-unreported result is not in front of the board)."""
    mdt = _dates(rows["first_mdt_on"])
    reported = _dates(rows["reported_on"])
    done = _dates(rows["done_on"])
    by_report = (reported <= mdt).fillna(False)
    by_done = (reported.isna() & (done <= mdt)).fillna(False)
    return (by_report | by_done).astype(bool)


def _workup_rows(cases: pd.DataFrame, workup: pd.DataFrame) -> pd.DataFrame:
    cases = _frame(cases, CASE_COLUMNS)
    workup = _frame(workup, WORKUP_COLUMNS)
    discussed = cases.loc[cases["first_mdt_on"].notna(), ["case_id", "first_mdt_on"]]
    rows = workup[~workup["status"].isin(NOT_EXPECTED_STATUSES)].merge(discussed, on="case_id")
    rows["available"] = _available_at_first_mdt(rows) if not rows.empty else pd.Series(dtype=bool)
    return rows


def workup_missing_at_first_mdt(cases: pd.DataFrame, workup: pd.DataFrame) -> pd.DataFrame:
    """Per investigation: cases discussed at a first MDT for which it was expected, how
    many lacked it at that meeting, and the share; most often missing first."""
    rows = _workup_rows(cases, workup)
    columns = ["code", "label", "expected", "missing", "share_missing"]
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    rows["missing"] = ~rows["available"]
    grouped = rows.groupby("code").agg(expected=("case_id", "nunique"), missing=("missing", "sum"))
    grouped = grouped.reset_index()
    grouped["missing"] = grouped["missing"].astype(int)
    grouped["share_missing"] = grouped["missing"] / grouped["expected"]
    grouped["label"] = [
        INVESTIGATIONS_BY_CODE[c].label if c in INVESTIGATIONS_BY_CODE else c
        for c in grouped["code"]
    ]
    return grouped.sort_values(
        ["share_missing", "missing", "code"], ascending=[False, False, True]
    ).reset_index(drop=True)[columns]


def workup_completeness(cases: pd.DataFrame, workup: pd.DataFrame) -> tuple[int, int]:
    """Cases that had a first MDT, and how many had every expected investigation then."""
    cases = _frame(cases, CASE_COLUMNS)
    discussed = int(cases["first_mdt_on"].notna().sum())
    rows = _workup_rows(cases, workup)
    incomplete = rows.loc[~rows["available"], "case_id"].nunique() if not rows.empty else 0
    return discussed, discussed - incomplete


# ---------------------------------------------------------------------------------
# Decision mix


def decision_group(code: str) -> str:
    return code if code in DECISION_MIX_GROUPS else OTHER_DECISIONS


def _period_label(period: pd.Period, freq: Frequency) -> str:
    return f"{period.year} Q{period.quarter}" if freq == "quarter" else f"{period:%Y-%m}"


def decision_mix(
    decisions: pd.DataFrame,
    freq: Frequency = "quarter",
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    """Decisions per period and group (zeros included), with each group's share of the
    period's decisions. Periods run from ``start`` to ``end`` when given."""
    columns = ["period", "period_start", "group", "label", "decisions", "share"]
    code = {"quarter": "Q", "month": "M"}[freq]
    frame = _frame(decisions, ("decided_on", "code"))
    decided = _dates(frame["decided_on"])
    frame = frame.assign(decided=decided).dropna(subset=["decided"])
    if start is not None and end is not None:
        periods = pd.period_range(pd.Timestamp(start), pd.Timestamp(end), freq=code)
    elif not frame.empty:
        periods = pd.period_range(frame["decided"].min(), frame["decided"].max(), freq=code)
    else:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    frame["period"] = frame["decided"].dt.to_period(code)
    frame["group"] = [decision_group(c) for c in frame["code"]]
    counts = frame.groupby(["period", "group"]).size()
    index = pd.MultiIndex.from_product([periods, DECISION_MIX_GROUPS], names=["period", "group"])
    counts = counts.reindex(index, fill_value=0).rename("decisions").reset_index()
    totals = counts.groupby("period")["decisions"].transform("sum")
    counts["share"] = (counts["decisions"] / totals.where(totals > 0)).astype(float)
    counts["period_start"] = [p.start_time.date() for p in counts["period"]]
    counts["period"] = [_period_label(p, freq) for p in counts["period"]]
    counts["label"] = [DECISION_MIX_LABELS[g] for g in counts["group"]]
    counts["decisions"] = counts["decisions"].astype(int)
    return counts[columns]


# ---------------------------------------------------------------------------------
# Palliative care early (issue 21) [FERRELL17], [SVF]

# The quality indicator a CUP service lead reports: patients referred to palliative care
# within 30 days of day 0 (the pathway's start, well-founded suspicion).
PALLIATIVE_WITHIN_DAYS = 30
REFERRAL_COLUMNS: tuple[str, ...] = ("case_id", "first_palliative_on")


def palliative_referral_share(
    cases: pd.DataFrame,
    referrals: pd.DataFrame,
    today: dt.date,
    freq: Frequency = "quarter",
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    """Per period of day 0: the patients whose 30 days have passed (``judged``), how many
    of them were referred to palliative care by day 30 (``referred``; a referral the
    patient later declined still counts, it was offered), their share, and the patients
    still inside their 30 days (``awaiting``, not judged yet)."""
    columns = ["period", "period_start", "judged", "referred", "share", "awaiting"]
    code = {"quarter": "Q", "month": "M"}[freq]
    frame = _frame(cases, CASE_COLUMNS)
    day0 = _dates(frame["pathway_start"])
    frame = frame.assign(day0=day0).dropna(subset=["day0"])
    if start is not None and end is not None:
        periods = pd.period_range(pd.Timestamp(start), pd.Timestamp(end), freq=code)
    elif not frame.empty:
        periods = pd.period_range(frame["day0"].min(), frame["day0"].max(), freq=code)
    else:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    first = _frame(referrals, REFERRAL_COLUMNS)
    first_on = dict(zip(first["case_id"], _dates(first["first_palliative_on"]), strict=True))
    window = pd.Timedelta(days=PALLIATIVE_WITHIN_DAYS)
    referred_on = _dates(frame["case_id"].map(first_on))
    frame["referred"] = referred_on.notna() & (referred_on <= frame["day0"] + window)
    frame["judged"] = frame["day0"] + window <= pd.Timestamp(today)
    frame["period"] = frame["day0"].dt.to_period(code)
    rows = []
    for period in periods:
        group = frame[frame["period"] == period]
        judged = group[group["judged"]]
        referred = int(judged["referred"].sum())
        rows.append(
            {
                "period": _period_label(period, freq),
                "period_start": period.start_time.date(),
                "judged": len(judged),
                "referred": referred,
                "share": share(referred, len(judged)),
                "awaiting": int((~group["judged"]).sum()),
            }
        )
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------------------------
# Favourable subtypes [ESMO23]


@functools.lru_cache(maxsize=50_000)
def subtype_of(profile: CaseProfile) -> str:
    """The favourable subtype code :func:`cupboard.guidance.assess_case` would name
    (computed by :func:`~cupboard.guidance.favourable_subtype` alone), else
    ``unfavourable``. A profile is a hashable value, so the answer is remembered."""
    match = favourable_subtype(profile)
    return match.code if match else UNFAVOURABLE


def favourable_subtypes(profiles: Mapping[int, CaseProfile]) -> pd.DataFrame:
    """The favourable subtype of each case (see :func:`subtype_of`).

    A case without histology cannot match any subtype yet, so it is not classified
    (``classified`` False) rather than counted as unfavourable.
    """
    rows = [
        {
            "case_id": case_id,
            "classified": profile.histology is not None,
            "subtype": None if profile.histology is None else subtype_of(profile),
        }
        for case_id, profile in profiles.items()
    ]
    return pd.DataFrame(rows, columns=["case_id", "classified", "subtype"])


def favourable_summary(subtypes: pd.DataFrame) -> pd.DataFrame:
    """Cases per subtype (catalogue order, then unfavourable) among classified cases."""
    classified = subtypes[subtypes["classified"].astype(bool)] if not subtypes.empty else subtypes
    total = len(classified)
    counts = classified["subtype"].value_counts() if total else pd.Series(dtype=int)
    rows = []
    for code, label in FAVOURABLE_LABELS.items():
        cases = int(counts.get(code, 0))
        ratio = share(cases, total)
        rows.append(
            {
                "subtype": code,
                "label": label,
                "favourable": code != UNFAVOURABLE,
                "cases": cases,
                "share": float("nan") if ratio is None else ratio,
            }
        )
    return pd.DataFrame(rows)


def favourable_share(subtypes: pd.DataFrame) -> tuple[int, int, float | None]:
    """Classified cases, how many match a favourable subtype, and the share."""
    if subtypes.empty:
        return 0, 0, None
    classified = subtypes[subtypes["classified"].astype(bool)]
    favourable = int((classified["subtype"] != UNFAVOURABLE).sum())
    return len(classified), favourable, share(favourable, len(classified))


# ---------------------------------------------------------------------------------
# Primaries found


def found_by_label(value: object) -> str:
    """An investigation's label for a catalogue code; otherwise the text as entered."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
        return NOT_RECORDED
    text = str(value)
    return INVESTIGATIONS_BY_CODE[text].label if text in INVESTIGATIONS_BY_CODE else text


def primaries_found(cases: pd.DataFrame) -> pd.DataFrame:
    """Primaries found, per finding investigation and site; most productive first."""
    cases = _frame(cases, CASE_COLUMNS)
    found = cases[cases["primary_found_site"].notna()]
    columns = ["found_by", "site", "site_label", "cases"]
    if found.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    frame = pd.DataFrame(
        {
            "found_by": [found_by_label(v) for v in found["primary_found_by"]],
            "site": found["primary_found_site"].astype(str).to_numpy(),
        }
    )
    counts = frame.groupby(["found_by", "site"]).size().rename("cases").reset_index()
    counts["site_label"] = [PRIMARY_SITES.get(s, s) for s in counts["site"]]
    order = counts.groupby("found_by")["cases"].transform("sum")
    counts = counts.assign(_order=order).sort_values(
        ["_order", "found_by", "cases"], ascending=[False, True, False]
    )
    return counts.reset_index(drop=True)[columns]


def primary_found_share(cases: pd.DataFrame) -> tuple[int, int, float | None]:
    """Cases in the cohort, how many had their primary found, and the share."""
    cases = _frame(cases, CASE_COLUMNS)
    found = int(cases["primary_found_site"].notna().sum())
    return len(cases), found, share(found, len(cases))


# ---------------------------------------------------------------------------------
# Meetings


def meeting_load(agenda: pd.DataFrame) -> pd.DataFrame:
    """Per meeting held: cases discussed, how many were timed, and minutes per timed
    case. A discussion with no end, or an end before its start, is not timed."""
    columns = ["meeting_id", "meeting_date", "cases", "timed_cases", "minutes", "minutes_per_case"]
    agenda = _frame(agenda, AGENDA_COLUMNS)
    if agenda.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    started = pd.to_datetime(agenda["discussion_started_at"], errors="coerce", utc=True)
    ended = pd.to_datetime(agenda["discussion_ended_at"], errors="coerce", utc=True)
    minutes = (ended - started).dt.total_seconds() / 60
    frame = agenda.assign(minutes=minutes.where(minutes >= 0))
    per = frame.groupby(["meeting_id", "meeting_date"], sort=False).agg(
        cases=("case_id", "nunique"),
        timed_cases=("minutes", "count"),
        minutes=("minutes", "sum"),
    )
    per = per.reset_index()
    per["meeting_date"] = _dates(per["meeting_date"]).dt.date
    per["minutes_per_case"] = per["minutes"] / per["timed_cases"].where(per["timed_cases"] > 0)
    per["minutes"] = per["minutes"].where(per["timed_cases"] > 0)
    return per.sort_values(["meeting_date", "meeting_id"]).reset_index(drop=True)[columns]


def meeting_summary(per_meeting: pd.DataFrame) -> dict[str, float | int | None]:
    """Meetings held, cases discussed, mean cases per meeting and minutes per case
    (all timed minutes over all timed cases)."""
    if per_meeting.empty:
        return {"meetings": 0, "cases": 0, "cases_per_meeting": None, "minutes_per_case": None}
    meetings = len(per_meeting)
    cases = int(per_meeting["cases"].sum())
    timed = int(per_meeting["timed_cases"].sum())
    minutes = float(per_meeting["minutes"].fillna(0).sum())
    return {
        "meetings": meetings,
        "cases": cases,
        "cases_per_meeting": share(cases, meetings),
        "minutes_per_case": share(minutes, timed),
    }


# ---------------------------------------------------------------------------------
# Export


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _defuse(value: object) -> object:
    # A cell starting like a formula is run by spreadsheet programs (CSV injection).
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV for download; text cells that a spreadsheet would run are quoted."""
    safe = frame.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(_defuse)
    return safe.to_csv(index=False).encode("utf-8")


# ---------------------------------------------------------------------------------
# The whole report


@dataclass(frozen=True)
class ServiceReport:
    """Every measure of the analytics page for one cohort (the decision mix aside,
    which depends on the period's decisions and the chosen bucket)."""

    lead: pd.DataFrame
    within_by_class: pd.DataFrame
    within: int
    judged: int
    within_share: float | None
    waiting: int
    waiting_past_longest: int
    median_days_to_first_mdt: float | None
    median_days_to_endpoint: float | None
    missing_workup: pd.DataFrame
    discussed: int
    complete_workup: int
    subtypes: pd.DataFrame
    subtype_summary: pd.DataFrame
    classified: int
    favourable: int
    favourable_share: float | None
    cohort: int
    primaries_found: int
    primary_found_share: float | None
    found_by: pd.DataFrame
    per_meeting: pd.DataFrame
    meetings: dict[str, float | int | None]
    # Referred to palliative care within 30 days of day 0, per quarter (issue 21).
    palliative: pd.DataFrame | None = None


def service_report(
    cases: pd.DataFrame,
    decisions: pd.DataFrame,
    workup: pd.DataFrame,
    agenda: pd.DataFrame,
    profiles: Mapping[int, CaseProfile],
    targets: Sequence[LeadTime],
    today: dt.date,
    endpoint: Endpoint = "decision",
    palliative_referrals: pd.DataFrame | None = None,
) -> ServiceReport:
    lead = lead_times(cases, decisions, targets, today, endpoint)
    by_class = within_target_by_class(lead, targets)
    everyone = by_class[by_class["treatment_class"] == ALL_CLASSES].iloc[0]
    waiting, past_longest = awaiting_endpoint(lead, targets)
    discussed, complete = workup_completeness(cases, workup)
    subtypes = favourable_subtypes(profiles)
    classified, favourable, favourable_ratio = favourable_share(subtypes)
    cohort, found, found_ratio = primary_found_share(cases)
    per_meeting = meeting_load(agenda)
    return ServiceReport(
        lead=lead,
        within_by_class=by_class,
        within=int(everyone["within"]),
        judged=int(everyone["cases"]),
        within_share=share(int(everyone["within"]), int(everyone["cases"])),
        waiting=waiting,
        waiting_past_longest=past_longest,
        median_days_to_first_mdt=median_or_none(lead["days_to_first_mdt"]),
        median_days_to_endpoint=median_or_none(lead["days_to_endpoint"]),
        missing_workup=workup_missing_at_first_mdt(cases, workup),
        discussed=discussed,
        complete_workup=complete,
        subtypes=subtypes,
        subtype_summary=favourable_summary(subtypes),
        classified=classified,
        favourable=favourable,
        favourable_share=favourable_ratio,
        cohort=cohort,
        primaries_found=found,
        primary_found_share=found_ratio,
        found_by=primaries_found(cases),
        per_meeting=per_meeting,
        meetings=meeting_summary(per_meeting),
        palliative=palliative_referral_share(cases, palliative_referrals, today),
    )
