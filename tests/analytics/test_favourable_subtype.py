"""guidance.favourable_subtype: the subtype assess_case names, for a fraction of the cost."""

from __future__ import annotations

import datetime as dt

from cupboard.guidance import assess_case, favourable_subtype
from cupboard.services import analytics as service
from cupboard.services.context import ServiceContext
from db.demo_cohort import seed_demo_cohort


def test_it_names_the_subtype_assess_case_names(contexts: dict[str, ServiceContext]) -> None:
    viewer = contexts["viewer"]
    seed_demo_cohort(viewer.database_url, cases=120)
    today = dt.date.today()
    profiles = service.load_profiles(viewer, service.AnalyticsFilter(dt.date(2000, 1, 1), today))
    assert len(profiles) == 120
    named = [favourable_subtype(p) for p in profiles.values()]
    assert named == [assess_case(p).favourable_subtype for p in profiles.values()]
    assert any(named) and not all(named)  # both kinds of case are compared
