"""Placeholder until its issue lands."""

import streamlit as st

from cupboard.ui.guard import page_guard

ctx = page_guard("view_cases")
st.title("summary")
