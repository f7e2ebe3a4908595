"""Plotly figures built from plain data (no Streamlit, no database)."""
