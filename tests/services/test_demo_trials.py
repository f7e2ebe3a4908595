"""The demo register: against the demo cohort its trials show every match state, the
NTRK basket is eligible for a case with an NTRK fusion and possibly eligible (NGS not
done) for one without, a closed trial is never matched, and seeding the trials keeps
the database a demo."""

from __future__ import annotations

import datetime as dt

from cupboard.db import unit_of_work
from cupboard.models import Case
from cupboard.services import case_record, installation
from cupboard.services.context import ServiceContext
from cupboard.services.interop import CLI_ACTOR
from cupboard.services.trials import list_trials, trial_matches
from cupboard.trials import ELIGIBLE, MATCH_STATES, POSSIBLY_ELIGIBLE
from db.demo_cohort import seed_demo_cohort
from db.demo_trials import DEMO_TRIALS

NTRK_TRIAL = "NCT09990101"
CLOSED_TRIAL = "NCT09990105"


def test_demo_trials_exercise_every_match_state(database_url: str) -> None:
    seed_demo_cohort(database_url, cases=40, today=dt.date(2026, 11, 24))
    seed_demo_cohort(database_url, cases=1, seed=7)  # again: the trials are not doubled
    ctx = ServiceContext(database_url, CLI_ACTOR)
    assert len(list_trials(ctx)) == len(DEMO_TRIALS)
    with unit_of_work(database_url) as session:
        case_ids = list(session.scalars(Case.__table__.select().with_only_columns(Case.id)))
    profiles = case_record.case_profiles(ctx, case_ids)
    states: set[str] = set()
    ntrk_states: dict[str, list[str]] = {}
    for profile in profiles.values():
        guidance = case_record.guidance_for(profile)
        for ranked in trial_matches(ctx, profile, guidance, limit=None):
            assert ranked.trial.identifier != CLOSED_TRIAL
            states.add(ranked.match.state)
            if ranked.trial.identifier == NTRK_TRIAL:
                reasons = [u.reason for u in ranked.match.unknown] or list(ranked.match.met)
                ntrk_states.setdefault(ranked.match.state, []).extend(reasons)
    assert states == set(MATCH_STATES)
    assert any("NTRK" in text for text in ntrk_states[ELIGIBLE]), ntrk_states
    assert any(text.startswith("NGS") for text in ntrk_states[POSSIBLY_ELIGIBLE]), ntrk_states
    with unit_of_work(database_url) as session:
        assert installation.non_demo_content(session) is None
