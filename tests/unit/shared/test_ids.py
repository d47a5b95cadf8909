"""Aggregate ids are UUIDv7: time-ordered, and their age can be read back."""

import datetime as dt
import uuid

from shared.ids import created_at, new_id


def test_new_ids_are_version_7_with_the_rfc_variant() -> None:
    ident = new_id()
    assert ident.version == 7
    assert ident.variant == uuid.RFC_4122


def test_the_creation_time_reads_back_to_the_millisecond() -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(milliseconds=1)
    born = created_at(new_id())
    assert born is not None
    assert before <= born <= dt.datetime.now(dt.UTC)


def test_ids_made_later_sort_later() -> None:
    first = new_id()
    second = new_id()
    assert created_at(first) <= created_at(second)  # type: ignore[operator]


def test_a_random_uuid_has_no_creation_time() -> None:
    assert created_at(uuid.uuid4()) is None


def test_a_version_7_id_dated_past_the_year_9999_has_no_creation_time() -> None:
    assert created_at(uuid.UUID("ffffffff-ffff-7fff-bfff-ffffffffffff")) is None
