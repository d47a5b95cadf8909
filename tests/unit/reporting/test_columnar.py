"""The in-memory counting (`domain/columnar/`) on hand-made rows: distinct officials per
group, histories replaced per aggregate, filters on values never seen."""

import datetime as dt
from typing import Any

from services.reporting.domain.columnar.asof import Selection
from services.reporting.domain.columnar.store import Snapshot
from services.reporting.domain.columnar.tally import tally

D = dt.date


def _secondment(
    sid: str, official: str | None, host: str, sector: str | None, **kw: Any
) -> tuple[Any, ...]:
    row = {
        "need_id": "n1",
        "home_unit": "KV_NAM_GIANG",
        "ethnicity": "CO_TU",
        "gender": "F",
        "start_date": D(2024, 3, 1),
        "planned_end_date": D(2024, 8, 31),
        "ended_on": None,
        "end_reason": None,
        "rating": None,
        "cancelled_on": None,
        "ext_multi": False,
        "ext_decided_on": None,
        "ext_planned_end": None,
        "arr_multi": False,
        "arrangement": None,
        "arr_effective": None,
        "received_on": None,
        "arr_destination": None,
    } | kw
    return (sid, row["need_id"], official, row["home_unit"], host, sector, *list(row.values())[2:])


SELECTION = Selection(first=D(2024, 1, 1), last=D(2025, 12, 31), as_of=D(2025, 12, 31))


def test_an_official_counts_once_per_group_and_once_in_all() -> None:
    snap = Snapshot()
    snap.put_secondments(
        [
            _secondment("s1", "o1", "SO_Y_TE", "HEALTH"),
            _secondment("s2", "o1", "SO_Y_TE", "HEALTH", start_date=D(2024, 9, 1)),
            _secondment("s3", "o1", "SO_GD_DT", "EDUCATION", start_date=D(2025, 3, 1)),
            _secondment("s4", "o2", "SO_Y_TE", "HEALTH"),
        ]
    )
    t = tally(snap, SELECTION, lambda c: c)
    assert t.secondments["started"] == 4
    assert t.secondments["officials"] == 2
    assert t.groups["host_unit"]["SO_Y_TE"]["officials"] == 2
    assert t.groups["host_unit"]["SO_Y_TE"]["started"] == 3
    assert t.groups["host_unit"]["SO_GD_DT"]["officials"] == 1
    assert t.groups["home_unit"]["KV_NAM_GIANG"]["officials"] == 2


def test_a_filter_on_a_value_never_seen_matches_nothing() -> None:
    snap = Snapshot()
    snap.put_secondments([_secondment("s1", "o1", "SO_Y_TE", None)])
    unknown = Selection(SELECTION.first, SELECTION.last, SELECTION.as_of, sector="NOWHERE")
    assert tally(snap, unknown, lambda c: c).secondments["started"] == 0
    assert tally(snap, SELECTION, lambda c: c).secondments["started"] == 1


def test_a_replaced_history_gives_the_latest_extension_by_date() -> None:
    snap = Snapshot()
    snap.put_secondments(
        [
            _secondment("s1", "o1", "SO_Y_TE", "HEALTH", ext_multi=True),
            _secondment("s2", "o2", "SO_Y_TE", "HEALTH", ext_multi=True),
        ]
    )
    snap.put_extensions(
        [], [("s2", 3, D(2024, 8, 1), D(2024, 12, 31)), ("s1", 4, D(2024, 8, 1), D(2025, 1, 31))]
    )
    # s1's history now: two extensions, the later decision wins whatever its version
    snap.put_extensions(
        ["s1"],
        [("s1", 5, D(2024, 8, 20), D(2024, 9, 30)), ("s1", 6, D(2024, 8, 10), D(2025, 2, 28))],
    )
    on = Selection(SELECTION.first, SELECTION.last, as_of=D(2024, 10, 15))
    t = tally(snap, on, lambda c: c)
    assert t.secondments["overdue"] == 1  # s1: planned end 30 Sep (decided 20 Aug); s2: 31 Dec
    assert len(snap.extensions) == 3


def test_distinct_officials_follow_secondments_added_between_evaluations() -> None:
    """The order by official is kept between evaluations; a refresh that adds or changes
    secondments must not count against the old order."""
    snap = Snapshot()
    snap.put_secondments([_secondment("s1", "o1", "SO_Y_TE", "HEALTH")])
    assert tally(snap, SELECTION, lambda c: c).groups["host_unit"]["SO_Y_TE"]["officials"] == 1
    snap.put_secondments(
        [
            _secondment("s2", "o2", "SO_Y_TE", "HEALTH"),
            _secondment("s3", "o1", "SO_GD_DT", "EDUCATION", start_date=D(2025, 3, 1)),
        ]
    )
    t = tally(snap, SELECTION, lambda c: c)
    assert t.secondments["officials"] == 2
    assert t.groups["host_unit"]["SO_Y_TE"]["officials"] == 2
    assert t.groups["host_unit"]["SO_GD_DT"]["officials"] == 1
    # s1 re-read with o2 (same rows, other officials): o1 now counts only in education
    snap.put_secondments([_secondment("s1", "o2", "SO_Y_TE", "HEALTH")])
    t = tally(snap, SELECTION, lambda c: c)
    assert t.secondments["officials"] == 2
    assert t.groups["sector"]["HEALTH"]["officials"] == 1
    assert t.groups["sector"]["EDUCATION"]["officials"] == 1
