"""cupboard: a tumour-board dashboard for Cancer of Unknown Primary (ICD-10 C80)."""

__version__ = "0.1.0"
