"""Referrals & import: register one referral, import referrals (CSV) or a case (FHIR).

An import shows its validation report first (each refused row with its line and the
reason) and writes nothing until the user confirms; confirming writes the valid rows in
one transaction, and a patient whose MRN exists is skipped, never duplicated.
"""

import datetime as dt

import pandas as pd
import streamlit as st

from cupboard.errors import CupboardError
from cupboard.importing import REFERRAL_COLUMNS, referral_template_csv
from cupboard.knowledge.sites import BONE_PATTERNS, METASTATIC_SITES
from cupboard.permissions import PERMISSIONS, may
from cupboard.services import queue
from cupboard.services.cases import SEXES, Referral, register_referral
from cupboard.services.context import ServiceContext
from cupboard.services.interop import (
    commit_fhir_import,
    commit_referral_import,
    preview_fhir_import,
    preview_referral_import,
)
from cupboard.ui.guard import page_guard, show_error
from cupboard.ui.interop_widgets import import_report, import_result
from cupboard.ui.text import escape_markdown

ctx = page_guard("register_referral")
today = dt.date.today()
OUTCOME_KEY = "referrals_outcome"  # what the last confirmed import did, shown once

st.title("Referrals & import")


def _show_outcome(section: str) -> None:
    outcome = st.session_state.get(OUTCOME_KEY)
    if outcome and outcome[0] == section:
        del st.session_state[OUTCOME_KEY]
        if isinstance(outcome[1], CupboardError):
            show_error(outcome[1])
        else:
            import_result(outcome[1])


def _commit(section: str, context: ServiceContext, content: bytes, source: str) -> None:
    commit = commit_referral_import if section == "csv" else commit_fhir_import
    try:
        st.session_state[OUTCOME_KEY] = (section, commit(context, content, source))
    except CupboardError as error:
        st.session_state[OUTCOME_KEY] = (section, error)


def _referral_form() -> None:
    st.subheader("New referral")
    st.caption(
        "What a referral on well-founded suspicion must contain [SVF]: previous diseases "
        "(especially earlier cancer) and how to reach the patient and the referrer."
    )
    with st.form("referral_form"):
        left, right = st.columns(2)
        mrn = left.text_input("MRN", key="ref_mrn")
        name = right.text_input("Name", key="ref_name")
        sex = left.selectbox(
            "Sex", SEXES, index=None, format_func=str.title, placeholder="Choose", key="ref_sex"
        )
        date_of_birth = right.date_input(
            "Date of birth",
            value=None,
            min_value=dt.date(1900, 1, 1),
            max_value=today,
            key="ref_dob",
        )
        referral_date = left.date_input(
            "Referral date", value=today, max_value=today, key="ref_date"
        )
        pathway_start = right.date_input(
            "Pathway start (well-founded suspicion; default: referral date)",
            value=None,
            max_value=today,
            key="ref_pathway_start",
        )
        phone = left.text_input("Patient's phone", key="ref_phone")
        referrer_name = right.text_input("Referrer", key="ref_referrer")
        referrer_phone = left.text_input("Referrer's phone", key="ref_referrer_phone")
        sites = right.multiselect(
            "Metastatic sites",
            list(METASTATIC_SITES),
            format_func=METASTATIC_SITES.__getitem__,
            key="ref_sites",
        )
        lesion_count = left.number_input(
            "Lesions on imaging", min_value=0, max_value=1000, value=None, step=1, key="ref_lesions"
        )
        bone_pattern = right.selectbox(
            "Bone pattern",
            list(BONE_PATTERNS),
            index=None,
            format_func=BONE_PATTERNS.__getitem__,
            placeholder="Not applicable",
            key="ref_bone",
        )
        # Someone answers for every new case: the navigator who registers it, unless
        # another is chosen; otherwise it sits on nobody's "My cases".
        navigators = {m.id: m.name for m in queue.staff(ctx, ("navigator",))}
        own = ctx.actor.user_id if ctx.actor.user_id in navigators else None
        navigator_id = left.selectbox(
            "Responsible navigator",
            list(navigators),
            index=list(navigators).index(own) if own is not None else None,
            format_func=navigators.__getitem__,
            placeholder="Nobody yet",
            key="ref_navigator",
        )
        prior_malignancy = st.text_area("Previous malignancy", key="ref_prior")
        presentation = st.text_area("Presentation", key="ref_presentation")
        submitted = st.form_submit_button("Register referral", type="primary")
    if not submitted:
        return
    referral = Referral(
        mrn=mrn,
        name=name,
        sex=sex,  # type: ignore[arg-type]  # None is refused by the service, by name
        date_of_birth=date_of_birth,  # type: ignore[arg-type]
        referral_date=referral_date,  # type: ignore[arg-type]
        pathway_start=pathway_start,  # type: ignore[arg-type]
        phone=phone,
        referrer_name=referrer_name,
        referrer_phone=referrer_phone,
        prior_malignancy=prior_malignancy,
        presentation=presentation,
        metastatic_sites=tuple(sites),
        lesion_count=int(lesion_count) if lesion_count is not None else None,
        bone_pattern=bone_pattern,
        navigator_id=navigator_id,
    )
    try:
        case_id = register_referral(ctx, referral)
    except CupboardError as error:
        show_error(error)
        return
    st.success(f"Referral registered: case {case_id}.")
    st.page_link(
        "pages/case.py",
        label=f"Open case {case_id}",
        icon=":material/folder_open:",
        query_params={"case_id": str(case_id)},
    )


def _csv_import() -> None:
    st.subheader("Import referrals (CSV)")
    st.caption(
        "One row per patient; the file is checked in full and nothing is written until "
        "you confirm. Columns are described below and in docs/import-formats.md."
    )
    with st.expander("Columns"):
        st.dataframe(
            pd.DataFrame(
                [
                    (c.name, "yes" if c.required else "", c.meaning, c.example)
                    for c in REFERRAL_COLUMNS
                ],
                columns=["column", "required", "meaning", "example"],
            ),
            hide_index=True,
        )
        st.download_button(
            "Download a template",
            data=referral_template_csv(),
            file_name="cupboard-referrals-template.csv",
            mime="text/csv",
            on_click="ignore",
            key="referral_template",
        )
    _show_outcome("csv")
    uploaded = st.file_uploader("Referral file", type=["csv"], key="referral_csv")
    if uploaded is None:
        return
    content, source = uploaded.getvalue(), uploaded.name
    try:
        report = preview_referral_import(ctx, content, source)
    except CupboardError as error:
        show_error(error)
        return
    import_report(report, key="referral_csv_report")
    if report.to_import:
        st.button(
            f"Import the {len(report.to_import)} valid row(s)",
            type="primary",
            on_click=_commit,
            args=("csv", ctx, content, source),
            key="referral_csv_commit",
        )


def _fhir_import() -> None:
    st.subheader("Import a case (FHIR)")
    st.caption(
        "A FHIR R4 Bundle as cupboard exports it (with identifiers): the patient, the "
        "pathway, findings, workup and decisions. Checked in full before anything is written."
    )
    _show_outcome("fhir")
    uploaded = st.file_uploader("FHIR Bundle (JSON)", type=["json"], key="fhir_bundle")
    if uploaded is None:
        return
    content, source = uploaded.getvalue(), uploaded.name
    try:
        report = preview_fhir_import(ctx, content, source)
    except CupboardError as error:
        show_error(error)
        return
    import_report(report, key="fhir_report")
    if report.to_import:
        patient = report.to_import[0]
        st.button(
            f"Import the case of MRN {escape_markdown(patient.mrn)}",
            type="primary",
            on_click=_commit,
            args=("fhir", ctx, content, source),
            key="fhir_commit",
        )


def _may_import() -> bool:
    if may(ctx.actor.role, "import_data"):
        return True
    allowed = ", ".join(PERMISSIONS.get("import_data", ())) or "nobody"
    st.info(f"Importing files needs one of these roles: {allowed}. Register referrals one by one.")
    return False


form_tab, csv_tab, fhir_tab = st.tabs(["New referral", "Import referrals", "Import a case"])
with form_tab:
    _referral_form()
with csv_tab:
    if _may_import():
        _csv_import()
with fhir_tab:
    if _may_import():
        _fhir_import()
