"""Share of patients referred to palliative care within 30 days of day 0, per period
(issue 21): the pure measure, and the service's frame on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd

from cupboard import analytics as a
from cupboard.services import analytics as service
from cupboard.services.context import ServiceContext
from cupboard.services.referrals import ReferralDraft, request_referrals

TODAY = dt.date(2026, 6, 30)


def _cases(*starts: tuple[int, dt.date]) -> pd.DataFrame:
    return pd.DataFrame(
        [(case_id, start, None, None, None, None) for case_id, start in starts],
        columns=list(a.CASE_COLUMNS),
    )


def _referrals(*firsts: tuple[int, dt.date]) -> pd.DataFrame:
    return pd.DataFrame(list(firsts), columns=list(a.REFERRAL_COLUMNS))


def test_referred_by_day_30_counts_later_does_not_and_recent_cases_wait() -> None:
    cases = _cases(
        (1, dt.date(2026, 1, 10)),  # referred on day 30: counts
        (2, dt.date(2026, 1, 20)),  # referred on day 31: too late
        (3, dt.date(2026, 2, 1)),  # never referred
        (4, dt.date(2026, 6, 15)),  # day 15 today: not judged yet
    )
    referrals = _referrals(
        (1, dt.date(2026, 2, 9)), (2, dt.date(2026, 2, 20)), (4, dt.date(2026, 6, 16))
    )
    table = a.palliative_referral_share(
        cases, referrals, TODAY, "quarter", dt.date(2026, 1, 1), dt.date(2026, 6, 30)
    )
    q1, q2 = table.to_dict("records")
    assert (q1["period"], q1["judged"], q1["referred"], q1["awaiting"]) == ("2026 Q1", 3, 1, 0)
    assert q1["share"] == 1 / 3
    assert (q2["period"], q2["judged"], q2["referred"], q2["awaiting"]) == ("2026 Q2", 0, 0, 1)
    assert pd.isna(q2["share"])  # nothing to divide


def test_no_cases_is_an_empty_table() -> None:
    table = a.palliative_referral_share(_cases(), _referrals(), TODAY)
    assert table.empty
    assert list(table.columns) == [
        "period",
        "period_start",
        "judged",
        "referred",
        "share",
        "awaiting",
    ]


def test_the_service_reads_each_cases_first_palliative_referral(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    today = dt.date.today()
    start = today - dt.timedelta(days=60)
    early = make_case(referral_date=start)
    late = make_case(referral_date=start)
    oncologist = contexts["oncologist"]
    palliative = [ReferralDraft("palliative_care", "ECOG 2")]
    request_referrals(oncologist, early, palliative, requested_on=start + dt.timedelta(days=5))
    request_referrals(oncologist, late, palliative, requested_on=start + dt.timedelta(days=40))
    request_referrals(
        oncologist,
        early,
        [ReferralDraft("dietitian", "weight loss")],
        requested_on=start + dt.timedelta(days=1),
    )
    data = service.load_analytics(
        contexts["viewer"], service.AnalyticsFilter(start - dt.timedelta(days=1), today), today
    )
    assert data.palliative_referrals is not None
    firsts = dict(zip(*(data.palliative_referrals[c] for c in a.REFERRAL_COLUMNS), strict=True))
    assert firsts == {early: start + dt.timedelta(days=5), late: start + dt.timedelta(days=40)}
    table = a.palliative_referral_share(data.cases, data.palliative_referrals, today, "month")
    assert int(table["judged"].sum()) == 2 and int(table["referred"].sum()) == 1


def test_a_cohort_without_any_referral_is_judged_none_referred() -> None:
    """No referral at all (the usual start): every judged patient counts, none referred."""
    cases = _cases((1, dt.date(2026, 1, 10)), (2, dt.date(2026, 2, 1)))
    [q1] = a.palliative_referral_share(cases, _referrals(), TODAY).to_dict("records")
    assert (q1["judged"], q1["referred"], q1["share"]) == (2, 0, 0.0)
