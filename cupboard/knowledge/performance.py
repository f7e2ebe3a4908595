"""ECOG performance status and prognosis groups [ECOG], [CULINE]."""

from __future__ import annotations

# ECOG performance status [ECOG], LOINC 89247-1 answers LA9622-7 ... LA9627-6.
ECOG_GRADES: dict[int, str] = {
    0: "Fully active",
    1: "Restricted in strenuous activity; ambulatory, light work",
    2: "Ambulatory, self-care, no work; up > 50 % of waking hours",
    3: "Limited self-care; in bed or chair > 50 % of waking hours",
    4: "Completely disabled",
    5: "Dead",
}
ECOG_LOINC_ANSWERS: dict[int, str] = {
    0: "LA9622-7",
    1: "LA9623-5",
    2: "LA9624-3",
    3: "LA9625-0",
    4: "LA9626-8",
    5: "LA9627-6",
}

ECOG_LOINC = "89247-1"

# Good risk = PS 0-1 and normal LDH (median survival 11.7 months, 1-year 45 %);
# poor risk otherwise (3.9 months, 11 %) [CULINE].
GOOD_PROGNOSIS_MAX_ECOG = 1
# ECOG 3-4 with unfavourable CUP usually means best supportive care: flag, never decide.
BSC_FLAG_MIN_ECOG = 3
