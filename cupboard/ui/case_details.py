"""A case's registered details after registration: sites, lesions, bone pattern,
presentation, previous malignancy and who answers for the case.

The presentation is read on every visit (it is the story the board hears first); the
editor runs only while its expander is open (``on_change="rerun"``) and reads the
values and versions it saves against at that moment. A save someone else overtook is
refused as a conflict by the service and said plainly here.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from cupboard.errors import CupboardError
from cupboard.knowledge.sites import BONE_PATTERNS, METASTATIC_SITES
from cupboard.permissions import may
from cupboard.services import queue
from cupboard.services.case_record import CaseHeader
from cupboard.services.cases import CaseDetails, case_details, update_case
from cupboard.services.context import ServiceContext
from cupboard.ui.case_panels import flash, show_flash

_UNASSIGNED = 0  # "nobody yet" in the staff choices


def presentation(header: CaseHeader) -> None:
    """The referral's story, as typed (plain text, never markdown)."""
    st.caption("Presentation")
    st.text(header.presentation or "No presentation recorded.")


def _staff_choice(
    label: str, members: list[queue.StaffMember], current: int | None, key: str
) -> None:
    names = {m.id: m.name for m in members}
    options = [_UNASSIGNED, *names]
    if current is not None and current not in names:
        # Someone no longer active still answers for it until it is handed over.
        names[current] = f"user {current} (inactive)"
        options.append(current)
    st.selectbox(
        label,
        options,
        index=options.index(current if current is not None else _UNASSIGNED),
        format_func=lambda user_id: "Nobody yet" if user_id == _UNASSIGNED else names[user_id],
        key=key,
    )


def _save(ctx: ServiceContext, details: CaseDetails, key: str) -> None:
    state = st.session_state
    k = f"{key}_{details.version}_{details.patient_version}"

    def staff(field: str) -> int | None:
        chosen = state.get(f"{k}_{field}")
        return None if chosen in (None, _UNASSIGNED) else int(chosen)

    changes: dict[str, Any] = {
        "metastatic_sites": list(state.get(f"{k}_sites") or ()),
        "lesion_count": state.get(f"{k}_lesions"),
        "bone_pattern": state.get(f"{k}_bone"),
        "presentation": state.get(f"{k}_presentation"),
        "prior_malignancy": state.get(f"{k}_prior"),
        "navigator_id": staff("navigator_id"),
        "oncologist_id": staff("oncologist_id"),
    }
    try:
        changed = update_case(
            ctx,
            details.case_id,
            details.version,
            changes,
            seen_patient_version=details.patient_version,
        )
    except CupboardError as error:
        flash(f"{key}_details", "error", str(error))
    else:
        flash(
            f"{key}_details",
            "success",
            "Case details saved." if changed else "Nothing changed.",
        )


def details_editor(ctx: ServiceContext, header: CaseHeader, *, key: str) -> None:
    """The registered details, editable by the roles that manage cases."""
    show_flash(f"{key}_details")
    if not may(ctx.actor.role, "update_case"):
        return
    box = st.expander(
        "Case details", icon=":material/edit_note:", key=f"{key}_details_box", on_change="rerun"
    )
    if not box.open:
        return
    details = case_details(ctx, header.case_id)
    navigators = queue.staff(ctx, ("navigator",))
    oncologists = queue.staff(ctx, ("oncologist", "chair"))
    # Keys carry the versions: after a save (anyone's) the fields show the new values.
    k = f"{key}_{details.version}_{details.patient_version}"
    with box:
        left, right = st.columns(2)
        with left:
            st.multiselect(
                "Metastatic sites",
                list(METASTATIC_SITES),
                default=list(details.metastatic_sites),
                format_func=METASTATIC_SITES.__getitem__,
                key=f"{k}_sites",
            )
            st.number_input(
                "Lesions on imaging",
                min_value=0,
                max_value=1000,
                value=details.lesion_count,
                step=1,
                key=f"{k}_lesions",
            )
            bone = list(BONE_PATTERNS)
            st.selectbox(
                "Bone pattern",
                bone,
                index=bone.index(details.bone_pattern) if details.bone_pattern in bone else None,
                format_func=BONE_PATTERNS.__getitem__,
                placeholder="Not applicable",
                key=f"{k}_bone",
            )
        with right:
            _staff_choice(
                "Responsible navigator", navigators, details.navigator_id, f"{k}_navigator_id"
            )
            _staff_choice(
                "Responsible oncologist", oncologists, details.oncologist_id, f"{k}_oncologist_id"
            )
        st.text_area("Presentation", value=details.presentation or "", key=f"{k}_presentation")
        st.text_area(
            "Previous malignancy",
            value=details.prior_malignancy or "",
            key=f"{k}_prior",
            help="The patient's, shared by all their cases",
        )
        st.button(
            "Save case details",
            key=f"{key}_details_save",
            on_click=_save,
            args=(ctx, details, key),
        )
