"""The baseline: a trivial one-line Streamlit page (every page time is divided by its)."""

import streamlit as st

st.write("ok")
