"""Versioned reference data of the secondment programme: units, ranks, sectors, ethnic groups.

Use `reference_data()` for the process-wide catalog; it loads the packaged JSON on first use.
See README.md in this folder for sources, what is illustrative and how to override ranks.
"""

from shared.reference.catalog import (
    ETHNIC_GROUP_COUNT,
    RANKS_FILE_ENV,
    ReferenceData,
    ReferenceDataError,
    UnitNotValidError,
    UnitRefDict,
    UnknownReferenceError,
    reference_data,
)
from shared.reference.models import (
    Ethnicity,
    Rank,
    Sector,
    Subgroup,
    Unit,
    UnitChange,
    UnitKind,
)

__all__ = [
    "ETHNIC_GROUP_COUNT",
    "RANKS_FILE_ENV",
    "Ethnicity",
    "Rank",
    "ReferenceData",
    "ReferenceDataError",
    "Sector",
    "Subgroup",
    "Unit",
    "UnitChange",
    "UnitKind",
    "UnitNotValidError",
    "UnitRefDict",
    "UnknownReferenceError",
    "reference_data",
]
