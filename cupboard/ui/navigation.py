"""The screens of the app, in one list: dashboard.py builds ``st.navigation`` from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from cupboard.permissions import Actor, may

PAGES_DIR = Path(__file__).resolve().parents[2] / "pages"


@dataclass(frozen=True)
class Screen:
    file: str
    title: str
    icon: str
    url_path: str
    action: str  # permission needed to open it
    section: str


SCREENS: tuple[Screen, ...] = (
    Screen("queue.py", "MDT queue", ":material/view_list:", "queue", "view_cases", "Tumour board"),
    Screen("case.py", "Case", ":material/folder_open:", "case", "view_cases", "Tumour board"),
    Screen(
        "meeting.py",
        "Meeting mode",
        ":material/co_present:",
        "meeting",
        "view_cases",
        "Tumour board",
    ),
    Screen(
        "worklist.py",
        "Navigator worklist",
        ":material/checklist:",
        "worklist",
        "view_cases",
        "Navigation",
    ),
    Screen(
        "referrals.py",
        "Referrals & import",
        ":material/person_add:",
        "referrals",
        "register_referral",
        "Navigation",
    ),
    Screen(
        "summary.py", "Before clinic", ":material/description:", "summary", "view_cases", "Clinic"
    ),
    Screen(
        "analytics.py",
        "Service analytics",
        ":material/monitoring:",
        "analytics",
        "view_cases",
        "Service",
    ),
    Screen(
        "audit.py", "Audit trail", ":material/history:", "audit", "view_audit", "Administration"
    ),
    Screen(
        "admin.py",
        "Users & settings",
        ":material/admin_panel_settings:",
        "admin",
        "manage_users",
        "Administration",
    ),
)


def build_navigation(actor: Actor | None) -> st.navigation:  # type: ignore[valid-type]
    """Called on every run of dashboard.py, also before sign-in (see the guard)."""
    sections: dict[str, list[st.Page]] = {}  # type: ignore[valid-type]
    for index, screen in enumerate(SCREENS):
        if actor is not None and not may(actor.role, screen.action):
            continue
        sections.setdefault(screen.section, []).append(
            st.Page(
                PAGES_DIR / screen.file,
                title=screen.title,
                icon=screen.icon,
                url_path=screen.url_path,
                default=index == 0,
            )
        )
    return st.navigation(sections, position="sidebar" if actor else "hidden")
