"""Roles and what each may do (least privilege). Enforced in the service layer."""

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

# action -> roles allowed. Every signed-in role may read.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "view_cases": ("navigator", "oncologist", "chair", "pathologist", "viewer", "admin"),
    "register_referral": ("navigator", "oncologist", "chair", "admin"),
    "update_case": ("navigator", "oncologist", "chair"),
    "update_investigation": ("navigator", "oncologist", "chair"),
    "schedule_meeting": ("navigator", "chair"),
    "record_pathology": ("pathologist", "oncologist", "chair"),
    "record_molecular": ("pathologist", "oncologist", "chair"),
    "record_serum_marker": ("oncologist", "chair", "navigator"),
    "record_ecog": ("oncologist", "chair", "navigator"),
    "record_decision": ("oncologist", "chair"),
    "update_decision_follow_up": ("navigator", "oncologist", "chair"),
    "run_meeting": ("chair", "oncologist"),
    "view_audit": ("navigator", "oncologist", "chair", "pathologist", "admin"),
    "manage_users": ("admin",),
    "manage_settings": ("admin",),
    "import_data": ("navigator", "admin"),
    "export_data": ("navigator", "oncologist", "chair", "pathologist", "admin"),
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
