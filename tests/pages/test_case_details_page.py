"""Editing a case's registered details on the case page, and the referral form's
responsible navigator (issue 16), in AppTest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cupboard.services.cases import case_details
from cupboard.services.context import ServiceContext
from cupboard.ui.text import escape_markdown


def _details_open(app: Any, case_id: int) -> Any:
    app.session_state[f"case_{case_id}_details_box"] = True  # opened, as a click does
    return app.run()


def test_a_navigator_edits_the_details_and_the_page_shows_them(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
) -> None:
    case_id = make_case(sites=("liver",), presentation="Jaundice for two weeks.")
    app = open_page("pages/case.py", role="navigator", query={"case_id": str(case_id)})
    assert "Jaundice for two weeks." in [t.value for t in app.text]
    app = _details_open(app, case_id)
    k = f"case_{case_id}_1_1"
    app.multiselect(key=f"{k}_sites").set_value(["liver", "bone"]).run()
    app.number_input(key=f"{k}_lesions").set_value(3).run()
    app.selectbox(key=f"{k}_navigator_id").set_value(contexts["navigator"].actor.user_id).run()
    app.selectbox(key=f"{k}_oncologist_id").set_value(contexts["chair"].actor.user_id).run()
    app.text_area(key=f"{k}_presentation").input("Jaundice; back pain since May.").run()
    app.text_area(key=f"{k}_prior").input("Melanoma 2012").run()
    app.button(key=f"case_{case_id}_details_save").click().run()
    assert not app.exception
    assert [s.value for s in app.success] == [escape_markdown("Case details saved.")]
    details = case_details(contexts["viewer"], case_id)
    assert details.metastatic_sites == ("liver", "bone") and details.lesion_count == 3
    assert details.navigator_id == contexts["navigator"].actor.user_id
    assert details.oncologist_id == contexts["chair"].actor.user_id
    assert details.prior_malignancy == "Melanoma 2012"
    # The page shows what was saved: the new narrative, and the editor at the new version.
    assert "Jaundice; back pain since May." in [t.value for t in app.text]
    assert app.multiselect(key=f"case_{case_id}_2_2_sites").value == ["liver", "bone"]


def test_a_save_overtaken_by_someone_else_is_refused_and_said(
    contexts: dict[str, ServiceContext],
    make_case: Callable[..., int],
    open_page: Callable[..., Any],
) -> None:
    from cupboard.services.cases import update_case

    case_id = make_case()
    app = _details_open(
        open_page("pages/case.py", role="oncologist", query={"case_id": str(case_id)}), case_id
    )
    update_case(contexts["navigator"], case_id, 1, {"lesion_count": 9})
    # Typed and saved in one go, on the page drawn before the navigator's change.
    app.number_input(key=f"case_{case_id}_1_1_lesions").set_value(2)
    app.button(key=f"case_{case_id}_details_save").click().run()
    assert not app.exception and not app.success
    assert (
        app.error and escape_markdown("test-navigator changed lesion count") in app.error[0].value
    )
    assert case_details(contexts["viewer"], case_id).lesion_count == 9


def test_a_viewer_reads_the_presentation_but_gets_no_editor(
    make_case: Callable[..., int], open_page: Callable[..., Any]
) -> None:
    case_id = make_case(presentation="Neck node, 3 cm.")
    app = _details_open(
        open_page("pages/case.py", role="viewer", query={"case_id": str(case_id)}), case_id
    )
    assert not app.exception
    assert "Neck node, 3 cm." in [t.value for t in app.text]
    assert "Case details" not in [e.label for e in app.expander]


def test_the_referral_form_makes_the_registering_navigator_responsible(
    contexts: dict[str, ServiceContext], open_page: Callable[..., Any]
) -> None:
    app = open_page("pages/referrals.py", role="navigator")
    assert app.selectbox(key="ref_navigator").value == contexts["navigator"].actor.user_id
    oncologist = open_page("pages/referrals.py", role="oncologist")
    assert oncologist.selectbox(key="ref_navigator").value is None  # chosen, or nobody yet


def test_the_navigators_findings_tab_says_who_records_pathology(
    make_case: Callable[..., int], open_page: Callable[..., Any]
) -> None:
    case_id = make_case()
    said = (
        "Histopathology, IHC and molecular reports are entered by the pathologist, "
        "oncologist or chair (your role: navigator)."
    )
    for role, shown in (("navigator", True), ("oncologist", False)):
        app = open_page("pages/case.py", role=role, query={"case_id": str(case_id)})
        app.session_state[f"case_tabs_{case_id}"] = "Findings & guidance"
        app.run()
        assert not app.exception
        assert (said in [c.value for c in app.caption]) is shown, role
