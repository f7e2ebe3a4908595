"""Small Streamlit widgets shared by several pages (the only Streamlit code in the package)."""
