"""A case's registered details stay editable (issue 16): audited, version-checked,
by the roles that may; new referrals get a responsible navigator."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import select

from cupboard.db import unit_of_work
from cupboard.errors import ConflictError, PermissionDeniedError, ValidationError
from cupboard.models import AuditEvent, Case
from cupboard.permissions import SYSTEM_ACTOR
from cupboard.services.accounts import create_user
from cupboard.services.cases import Referral, case_details, register_referral, update_case
from cupboard.services.context import ServiceContext
from cupboard.services.worklist import worklist_page


def _audited_fields(url: str, entity: str, entity_id: int) -> set[str]:
    with unit_of_work(url) as session:
        return set(
            session.scalars(
                select(AuditEvent.field).where(
                    AuditEvent.entity == entity,
                    AuditEvent.entity_id == entity_id,
                    AuditEvent.action == "update",
                )
            )
        )


def test_every_registered_detail_is_edited_audited_and_read_back(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = make_case(sites=("liver",))
    details = case_details(contexts["oncologist"], case_id)
    chair = contexts["chair"].actor.user_id
    navigator = create_user(
        contexts["navigator"].database_url,
        SYSTEM_ACTOR,
        username="second-navigator",
        display_name="Second Navigator",
        role="navigator",
        email="nav2@example.invalid",
    )
    update_case(
        contexts["oncologist"],
        case_id,
        details.version,
        {
            "metastatic_sites": ["liver", "bone"],
            "lesion_count": 4,
            "bone_pattern": "lytic",
            "presentation": "Back pain for six weeks; weight loss 5 kg.",
            "prior_malignancy": "Melanoma of the back 2012",
            "navigator_id": navigator,
            "oncologist_id": chair,
        },
        seen_patient_version=details.patient_version,
    )
    after = case_details(contexts["viewer"], case_id)
    assert after.metastatic_sites == ("liver", "bone")
    assert (after.lesion_count, after.bone_pattern) == (4, "lytic")
    assert after.presentation == "Back pain for six weeks; weight loss 5 kg."
    assert after.prior_malignancy == "Melanoma of the back 2012"
    assert (after.navigator_id, after.oncologist_id) == (navigator, chair)
    url = contexts["navigator"].database_url
    assert {
        "metastatic_sites",
        "lesion_count",
        "bone_pattern",
        "presentation",
        "navigator_id",
        "oncologist_id",
    } <= _audited_fields(url, "case", case_id)
    with unit_of_work(url) as session:
        patient_id = session.get(Case, case_id).patient_id  # type: ignore[union-attr]
    assert "prior_malignancy" in _audited_fields(url, "patient", patient_id)


def test_a_stale_save_is_refused_for_the_case_and_for_the_patient(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = make_case()
    seen = case_details(contexts["navigator"], case_id)
    update_case(
        contexts["oncologist"],
        case_id,
        seen.version,
        {"prior_malignancy": "Breast cancer 2015"},
        seen_patient_version=seen.patient_version,
    )
    with pytest.raises(ConflictError):
        update_case(
            contexts["navigator"],
            case_id,
            seen.version,
            {"prior_malignancy": "none"},
            seen_patient_version=seen.patient_version,
        )
    with pytest.raises(ValidationError, match="prior_malignancy"):
        update_case(contexts["navigator"], case_id, seen.version, {"prior_malignancy": "x"})
    assert case_details(contexts["viewer"], case_id).prior_malignancy == "Breast cancer 2015"


@pytest.mark.parametrize("role", ["viewer", "pathologist", "admin"])
def test_roles_that_do_not_manage_cases_may_not_edit_them(
    role: str, contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = make_case()
    seen = case_details(contexts[role], case_id)
    with pytest.raises(PermissionDeniedError):
        update_case(contexts[role], case_id, seen.version, {"lesion_count": 3})


def test_the_responsible_staff_must_hold_the_right_role(
    contexts: dict[str, ServiceContext], make_case: Callable[..., int]
) -> None:
    case_id = make_case()
    seen = case_details(contexts["navigator"], case_id)
    viewer = contexts["viewer"].actor.user_id
    with pytest.raises(ValidationError, match="navigator_id: must be an active navigator"):
        update_case(contexts["navigator"], case_id, seen.version, {"navigator_id": viewer})
    with pytest.raises(ValidationError, match="oncologist_id"):
        update_case(
            contexts["navigator"],
            case_id,
            seen.version,
            {"oncologist_id": contexts["navigator"].actor.user_id},
        )
    with pytest.raises(ValidationError, match="navigator_id"):
        update_case(contexts["navigator"], case_id, seen.version, {"navigator_id": 99999})


def _referral(mrn: str, **extra: object) -> Referral:
    return Referral(
        mrn=mrn,
        name="New Referral",
        sex="male",
        date_of_birth="1955-02-03",
        # Thirty days on the pathway: past the SVF clock, so on a worklist.
        referral_date=dt.date.today() - dt.timedelta(days=30),
        metastatic_sites=("liver",),
        **extra,  # type: ignore[arg-type]
    )


def test_the_navigator_named_on_the_referral_answers_for_it(
    contexts: dict[str, ServiceContext],
) -> None:
    navigator = contexts["navigator"]
    case_id = register_referral(navigator, _referral("N1", navigator_id=navigator.actor.user_id))
    assert case_details(navigator, case_id).navigator_id == navigator.actor.user_id
    # On the navigator's own worklist at once, as on everyone's.
    everyone = worklist_page(navigator, mine=False, limit=None)
    assert case_id in {item.case_id for item in everyone.items}
    mine = worklist_page(navigator, mine=True, limit=None)
    assert case_id in {item.case_id for item in mine.items}


def test_an_oncologist_registering_names_the_navigator_or_leaves_it_open(
    contexts: dict[str, ServiceContext],
) -> None:
    oncologist = contexts["oncologist"]
    navigator_id = contexts["navigator"].actor.user_id
    chosen = register_referral(oncologist, _referral("O1", navigator_id=navigator_id))
    assert case_details(oncologist, chosen).navigator_id == navigator_id
    unassigned = register_referral(oncologist, _referral("O2"))
    assert case_details(oncologist, unassigned).navigator_id is None
    with pytest.raises(ValidationError, match="navigator_id"):
        register_referral(oncologist, _referral("O3", navigator_id=contexts["chair"].actor.user_id))
