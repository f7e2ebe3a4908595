"""Use cases: one function per thing a user does.

Each write opens one unit of work, checks the actor's permission, validates its
input, compares the version the user saw, applies the change and writes an audit
row per changed field, all in one transaction. No Streamlit import here.
"""

from cupboard.services.context import ServiceContext

__all__ = ["ServiceContext"]
