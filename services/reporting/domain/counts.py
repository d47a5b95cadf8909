"""The names of the evaluation's counts, its groupings and the codes it tallies: one list
each, read by the evaluation, its small-cell protection and the columnar engine."""

RATINGS = ("EXCELLENT", "GOOD", "COMPLETED", "NOT_COMPLETED")
ARRANGEMENTS = ("RETURNED_TO_FORMER_POST", "PROMOTED", "TRANSFERRED", "OTHER")
SECONDMENT_COUNTS = (
    "started",
    "received",
    "active",
    "ended",
    "completed",
    "terminated_early",
    "overdue",
    "officials",
)
NEED_COUNTS = ("raised", "withdrawn", "filled", "positions_requested", "positions_filled")
DIMENSIONS = ("home_unit", "host_unit", "sector", "ethnicity", "gender")
