"""Roles and what each may do (least privilege). Enforced in the service layer.

Every service function opens its transaction with ``ctx.writing(action)`` or
``ctx.reading(action)`` (``cupboard/services/context.py``), which re-reads the account's
role in that transaction; a refusal is a ``PermissionDeniedError`` naming the role, the
action and who may do it. Pages only use ``may`` to hide what would be refused anyway.

Each role gets the writes its work needs and no more:

- navigator: referrals, case status, the workup (investigations), scheduling the MDT,
  performance status and serum markers taken at the nurse visit, follow-up dates;
- oncologist: findings and decisions, and the navigator's clinical writes (a
  referring oncologist often registers and works up the case);
- chair: as oncologist, and runs the meeting (stamps the discussion of each case);
- navigator and chair keep the trial register (the navigator as trial coordinator);
- oncologist and chair request care referrals beside a decision; the navigator moves
  them on;
- pathologist: histopathology, IHC and molecular findings only;
- viewer: reads the board, nothing else (not even the audit trail);
- admin: user accounts and settings. An administrator reads the board to support
  its users but writes no clinical data.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES: dict[str, str] = {
    "navigator": "Nurse navigator: case status, investigations, scheduling",
    "oncologist": "Oncologist: findings, performance status, decisions",
    "chair": "MDT chair: as oncologist, and runs the meeting",
    "pathologist": "Pathologist: pathology and molecular findings",
    "viewer": "Viewer: read only",
    "admin": "Administrator: user accounts and settings",
}

_CLINICIANS = ("navigator", "oncologist", "chair")

# action -> roles allowed. Every signed-in role may read the board.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "view_cases": ("navigator", "oncologist", "chair", "pathologist", "viewer", "admin"),
    "register_referral": _CLINICIANS,
    "update_case": _CLINICIANS,
    "update_investigation": _CLINICIANS,
    "schedule_meeting": ("navigator", "chair"),
    "record_pathology": ("pathologist", "oncologist", "chair"),
    "record_molecular": ("pathologist", "oncologist", "chair"),
    "record_serum_marker": _CLINICIANS,
    "record_ecog": _CLINICIANS,
    "record_decision": ("oncologist", "chair"),
    "update_decision_follow_up": _CLINICIANS,
    "run_meeting": ("chair",),
    "view_audit": ("navigator", "oncologist", "chair", "pathologist", "admin"),
    "manage_users": ("admin",),
    "manage_settings": ("admin",),
    "import_data": ("navigator",),
    "export_data": ("navigator", "oncologist", "chair", "pathologist"),
    # The trial register: the navigator coordinates trials, the chair offers them.
    "manage_trials": ("navigator", "chair"),
    # Referrals beside the decision (palliative care, genetics, ...): the doctors who
    # decide request them; the navigator follows them up (accepted, seen, closed).
    "request_care_referral": ("oncologist", "chair"),
    "update_care_referral": _CLINICIANS,
}


@dataclass(frozen=True)
class Actor:
    """Who is acting: carried into every service call and every audit row."""

    user_id: int | None
    username: str
    display_name: str
    role: str


SYSTEM_ACTOR = Actor(user_id=None, username="system", display_name="cupboard", role="admin")


def may(role: str, action: str) -> bool:
    return role in PERMISSIONS.get(action, ())


def allowed_actions(role: str) -> tuple[str, ...]:
    """What a role may do, in the order of ``PERMISSIONS`` (shown on the admin page)."""
    return tuple(action for action, roles in PERMISSIONS.items() if role in roles)
