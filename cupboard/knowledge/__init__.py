"""Clinical catalogues as data, each entry carrying its source tag.

Everything the clinic names (pathway statuses, investigations, markers, sites,
histology, decisions, favourable subtypes, biomarkers) is defined once here.
Source tags are the bracketed tags of docs/clinical-rules.md (listed there with their
full citations) and are resolved to full citations by :mod:`cupboard.knowledge.sources`.
"""
