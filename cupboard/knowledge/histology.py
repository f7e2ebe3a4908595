"""Histology categories and differentiation [docs/clinical-rules.md, ESMO23]."""

from __future__ import annotations

HISTOLOGY_CATEGORIES: dict[str, str] = {
    "adenocarcinoma": "Adenocarcinoma",
    "poorly_differentiated_carcinoma": "Poorly differentiated carcinoma",
    "squamous_cell_carcinoma": "Squamous cell carcinoma",
    "neuroendocrine_tumour": "Neuroendocrine tumour (well-differentiated NET)",
    "neuroendocrine_carcinoma": "Neuroendocrine carcinoma (poorly differentiated NEC)",
    "undifferentiated_neoplasm": "Undifferentiated neoplasm",
    "melanoma": "Melanoma",
    "other": "Other",
}
HISTOLOGY_CODES: tuple[str, ...] = tuple(HISTOLOGY_CATEGORIES)

DIFFERENTIATION: dict[str, str] = {
    "well": "Well differentiated",
    "moderate": "Moderately differentiated",
    "poor": "Poorly differentiated",
    "undifferentiated": "Undifferentiated",
    "not_assessed": "Not assessed",
}

SPECIMEN_TYPES: dict[str, str] = {
    "core": "Core biopsy",
    "excision": "Excision",
    "fna": "Fine-needle aspirate (cytology)",
    "effusion": "Effusion cytology",
}

MSI_STATUSES: tuple[str, ...] = ("MSI-H", "MSS", "MSI-L")
MMR_STATUSES: tuple[str, ...] = ("deficient", "proficient")
