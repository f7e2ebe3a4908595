"""The case page shows one picture of the case (issue 15): a second molecular report
saved on the page keeps the first report's flags and the immunotherapy option; reports
that disagree are shown; the working diagnosis is set by an oncologist."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from cupboard.knowledge.decisions import DECISION_LABELS
from cupboard.services import case_record
from cupboard.services.context import ServiceContext
from cupboard.services.findings import MolecularFindings, add_molecular_report
from cupboard.ui.text import escape_markdown

EARLIER = dt.date.today() - dt.timedelta(days=14)
IMMUNOTHERAPY = escape_markdown(DECISION_LABELS["immunotherapy"])


def _open_findings(app: Any, case_id: int) -> Any:
    app.session_state[f"case_tabs_{case_id}"] = "Findings & guidance"
    return app.run()


def _texts(app: Any) -> str:
    shown = [m.value for m in app.markdown] + [i.value for i in app.info]
    return "\n".join(shown + [w.value for w in app.warning])


def _no_errors(app: Any) -> None:
    assert not app.exception, app.exception
    assert [e.value for e in app.error] == []


def test_saving_a_second_molecular_report_keeps_the_first_reports_flags(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
) -> None:
    case_id = make_case()
    add_molecular_report(
        contexts["pathologist"],
        case_id,
        MolecularFindings(EARLIER, msi_status="MSI-H", mmr_status="deficient", tmb=24.0),
    )
    app = _open_findings(
        open_page("pages/case.py", role="pathologist", query={"case_id": str(case_id)}), case_id
    )
    assert IMMUNOTHERAPY in _texts(app)

    # The NGS panel comes back with a fusion and leaves MSI, MMR and TMB blank.
    key = f"molecular_{case_id}_0"
    app.text_area(key=f"{key}_alterations").set_value("ETV6::NTRK3 fusion")
    app.text_input(key=f"{key}_lab").set_value("NGS lab")
    next(b for b in app.button if b.label == "Save molecular report").click().run()
    _no_errors(app)
    assert len(case_record.findings(contexts["viewer"], case_id).molecular) == 2

    shown = _texts(app)
    # The guidance still offers immunotherapy for the MSI-H of the first report ...
    assert IMMUNOTHERAPY in shown
    assert any(escape_markdown("MSI-H") in i.value for i in app.info)
    # ... and both reports' results are on the page, each with its report's date.
    assert escape_markdown(f"Molecular report of {EARLIER.isoformat()}") in shown
    assert escape_markdown("MSI-H") in shown and escape_markdown("MMR deficient") in shown
    assert escape_markdown("ETV6::NTRK3 fusion") in shown


def test_reports_that_disagree_are_shown_on_the_case_page(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
) -> None:
    case_id = make_case()
    pathologist = contexts["pathologist"]
    add_molecular_report(pathologist, case_id, MolecularFindings(EARLIER, msi_status="MSI-H"))
    add_molecular_report(pathologist, case_id, MolecularFindings(dt.date.today(), msi_status="MSS"))
    app = _open_findings(
        open_page("pages/case.py", role="viewer", query={"case_id": str(case_id)}), case_id
    )
    warnings = [w.value for w in app.warning]
    conflict = escape_markdown(f"MSI: MSS in the molecular report of {dt.date.today()}")
    assert any("Reports disagree" in w and conflict in w for w in warnings), warnings
    assert any(
        escape_markdown(f"but MSI-H in the molecular report of {EARLIER}") in w for w in warnings
    )


def test_an_oncologist_sets_the_working_diagnosis_and_a_navigator_only_sees_it(
    make_case: Callable[..., int], open_page: Callable[..., Any]
) -> None:
    case_id = make_case()
    app = open_page("pages/case.py", role="oncologist", query={"case_id": str(case_id)})
    app.selectbox(key=f"case_{case_id}_stage_1").set_value("primary_found").run()
    app.selectbox(key=f"case_{case_id}_stage_site_1").set_value("lung").run()
    app.button(key=f"case_{case_id}_stage_save").click().run()
    _no_errors(app)
    assert any("Primary found" in s.value for s in app.success)

    navigator = open_page("pages/case.py", role="navigator", query={"case_id": str(case_id)})
    assert not [b for b in navigator.button if b.label == "Save diagnosis"]
    # The banner says it, to every role and in meeting mode.
    assert escape_markdown("· Primary found: Lung ·") in navigator.markdown[0].value


def test_a_navigator_records_a_symptom_and_its_investigation_is_requested(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
) -> None:
    case_id = make_case(sex="male", sites=("liver",))
    app = open_page("pages/case.py", role="navigator", query={"case_id": str(case_id)})
    app.session_state[f"case_tabs_{case_id}"] = "Findings & guidance"
    app.session_state[f"case_{case_id}_symptoms_box"] = True  # opened, as a click does
    app.run()
    app.multiselect(key=f"case_{case_id}_symptoms_1").set_value(["haematuria"]).run()
    app.button(key=f"case_{case_id}_symptoms_save").click().run()
    _no_errors(app)
    assert escape_markdown("Symptoms saved.") in [s.value for s in app.success]
    workup = case_record.workup(contexts["viewer"], case_id)
    row = next(r for r in workup if r.code == "cystoscopy")
    assert (row.status, row.missing_before_mdt) == ("to_request", True)
