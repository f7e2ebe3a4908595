"""The case page shows what guidance version 2 says, the same as ``assess`` for the same
profile: a contradicted subtype is withheld and the conflict shown; a primary found on
tissue is named (docs/clinical-rules.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from cupboard.assess import profile_from_json, profile_to_json
from cupboard.guidance import assess_case, guidance_to_contract
from cupboard.services import case_record
from cupboard.services.context import ServiceContext
from cupboard.services.findings import IhcEntry, add_pathology_report
from cupboard.ui.text import escape_markdown

TODAY = dt.date.today()


def _guidance_tab(open_page: Callable[..., Any], case_id: int) -> Any:
    app = open_page("pages/case.py", role="oncologist", query={"case_id": str(case_id)})
    app.session_state[f"case_tabs_{case_id}"] = "Findings & guidance"
    app.run()
    assert not app.exception, app.exception
    return app


def test_axillary_nodes_with_a_lung_profile_show_the_conflict_not_breast(
    make_case: Callable[..., int],
    contexts: dict[str, ServiceContext],
    open_page: Callable[..., Any],
) -> None:
    case_id = make_case(sex="female", sites=("axillary_nodes",))
    add_pathology_report(
        contexts["pathologist"],
        case_id,
        histology="adenocarcinoma",
        reported_on=TODAY,
        ihc=[
            IhcEntry("TTF-1", "positive"),
            IhcEntry("Napsin A", "positive"),
            IhcEntry("GATA3", "negative"),
        ],
    )
    profile = case_record.case_profile(contexts["viewer"], case_id)
    # The page's guidance is assess's guidance for the same profile.
    contract = guidance_to_contract(assess_case(profile))
    from_json = guidance_to_contract(assess_case(profile_from_json(profile_to_json(profile))))
    assert contract == from_json
    assert contract["favourable_subtype"] is None
    [conflict] = [c for c in contract["conflicts"] if c["code"] == "subtype_contradicted"]

    app = _guidance_tab(open_page, case_id)
    warnings = [w.value for w in app.warning]
    assert any(escape_markdown(conflict["message"]) in w for w in warnings), warnings
    assert not any("manage as" in s.value and "breast" in s.value for s in app.success)


def test_a_primary_found_on_tissue_is_named_on_the_case_page(
    make_case: Callable[..., int],
    contexts: dict[str, ServiceContext],
    open_page: Callable[..., Any],
) -> None:
    case_id = make_case(sex="female", sites=("lung",))
    add_pathology_report(
        contexts["pathologist"],
        case_id,
        histology="adenocarcinoma",
        reported_on=TODAY,
        ihc=[
            IhcEntry("Thyroglobulin", "positive"),
            IhcEntry("TTF-1", "positive"),
            IhcEntry("PAX8", "positive"),
        ],
    )
    guidance = assess_case(case_record.case_profile(contexts["viewer"], case_id))
    assert guidance.primary_found is not None and guidance.primary_found.site == "thyroid"

    app = _guidance_tab(open_page, case_id)
    successes = [s.value for s in app.success]
    assert any("Primary found on tissue" in s and "Thyroid" in s for s in successes), successes
