"""Which refusals of a grouped statement let its commands go again one by one.

Trying a command again is safe only when the server says none of the statement's rows was
written; a code that leaves the outcome open must reach the commands as an error instead.
"""

import pytest

from shared.infra.group_commit import nothing_written


@pytest.mark.parametrize(
    "sqlstate",
    [
        "23505",  # two answers under one key
        "22012",  # a guarded insert that wrote nothing (division by zero)
        "21000",  # cardinality
        "40001",  # serialization failure: rolled back
        "40P01",  # deadlock: rolled back
        "40002",  # a deferred constraint at commit: rolled back
    ],
)
def test_a_refusal_for_what_the_rows_say_is_tried_alone(sqlstate: str) -> None:
    assert nothing_written(sqlstate)


@pytest.mark.parametrize(
    "sqlstate",
    [
        "40003",  # statement completion unknown: it may have committed
        "08006",  # the connection lost
        "57P01",  # the server shutting down
        "53300",  # too many connections
        "",  # no code at all
    ],
)
def test_a_failure_with_an_open_outcome_is_not_tried_again(sqlstate: str) -> None:
    assert not nothing_written(sqlstate)
