"""Small-cell protection of the evaluation's ethnic groups: which counts to withhold so that
none from 1 to the threshold − 1 can be read or derived (`assemble` applies it)."""

from collections.abc import Iterable, Mapping

from services.reporting.domain.counts import SECONDMENT_COUNTS

# Within a group, a total and its parts: hiding exactly one of them would be undone by
# subtraction.
GROUP_EQUATIONS: tuple[tuple[str, ...], ...] = (
    ("started", "active", "ended"),
    ("ended", "completed", "terminated_early"),
)
PROTECTED = (*SECONDMENT_COUNTS, "promoted")


def suppress(cells: Mapping[str, Mapping[str, int]], threshold: int) -> dict[str, set[str]]:
    """Cells to withhold, per group, so that no count from 1 to `threshold − 1` can be read
    or derived.

    Primary: every such count. Complementary, repeated until nothing changes:
    - within a group, an equation (started = active + ended; ended = completed +
      terminated_early) never has exactly one hidden cell;
    - across groups, a measure (whose total the evaluation shows) is never hidden in exactly
      one group.
    The complement chosen is the smallest visible non-zero cell (else the smallest visible one),
    ties broken by name, so the answer is deterministic.
    """
    hidden: dict[str, set[str]] = {g: set() for g in cells}
    if threshold <= 1:
        return hidden
    for group, values in cells.items():
        for name in PROTECTED:
            if 0 < values[name] < threshold:
                hidden[group].add(name)

    def pick(candidates: Iterable[tuple[str, str]]) -> tuple[str, str] | None:
        visible = [(cells[g][m], g, m) for g, m in candidates if m not in hidden[g]]
        if not visible:
            return None
        nonzero = [c for c in visible if c[0] > 0]
        _, g, m = min(nonzero or visible)
        return g, m

    changed = True
    while changed:
        changed = False
        for group in cells:
            for equation in GROUP_EQUATIONS:
                if sum(1 for m in equation if m in hidden[group]) == 1:
                    chosen = pick((group, m) for m in equation)
                    if chosen:
                        hidden[chosen[0]].add(chosen[1])
                        changed = True
        for measure in PROTECTED:
            holders = [g for g in cells if measure in hidden[g]]
            if len(holders) == 1:
                chosen = pick((g, measure) for g in cells if g != holders[0])
                if chosen:
                    hidden[chosen[0]].add(chosen[1])
                    changed = True
    return hidden
