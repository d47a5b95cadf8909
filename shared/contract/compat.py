"""Would a change break a consumer of contract v1? Compare the current JSON Schemas and rule
codes with the frozen baseline in `docs/contract/v1-baseline/`.

Breaking: a removed (or renamed) event type, rule code or field; an event moved to another
topic; a field whose type, nullability, format, allowed values or bounds changed; a new
required field; a field made required or made optional. Compatible: a new optional field, a
new event type, a new rule code, and changes of titles, descriptions and examples.

An event's value domain is a promise both ways: history written under v1 must still parse
(so nothing may narrow), and v1 consumers must understand every value they receive (so
nothing may widen either, not even an enum). Such a change is a new version of the event
(see "Versioning" in docs/contract.md).

`python -m shared.contract.compat` prints the breaking changes and exits 1 when there are any.
"""

import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from shared.contract.rules import RuleCode
from shared.contract.schemas import envelope_schema, event_schemas

Schema = Mapping[str, Any]

BASELINE_V1: Final = Path(__file__).resolve().parents[2] / "docs" / "contract" / "v1-baseline"
"""The frozen baseline of contract v1, in the source tree (not in the installed package)."""

BOUNDS: Final = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
)
"""Keywords that bound a field's values; changing any of them changes what v1 promised."""


class Change(StrEnum):
    """Kinds of breaking change."""

    EVENT_REMOVED = "event type removed or renamed"
    EVENT_MOVED = "event moved to another topic"
    RULE_CODE_REMOVED = "rule code removed or renamed"
    FIELD_REMOVED = "field removed or renamed"
    FIELD_RETYPED = "field retyped"
    VALUES_CHANGED = "allowed values changed"
    BOUNDS_CHANGED = "bounds changed"
    NEW_REQUIRED_FIELD = "new required field"
    FIELD_NOW_REQUIRED = "optional field made required"
    FIELD_NOW_OPTIONAL = "required field made optional"


@dataclass(frozen=True, order=True)
class BreakingChange:
    """One change that would break a v1 consumer, at `where` (`Event.field.subfield`)."""

    where: str
    change: Change
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.change.value} ({self.detail})"


@dataclass(frozen=True)
class Baseline:
    """What a published contract version promised."""

    envelope: Schema
    events: Mapping[str, Schema]
    rule_codes: tuple[str, ...]


def load_baseline(folder: Path = BASELINE_V1) -> Baseline:
    """Read a baseline folder: `CloudEvent.json`, `events/*.json`, `rule-codes.json`."""

    def read(path: Path) -> Any:
        return json.loads(path.read_text(encoding="utf-8"))

    events = {p.stem: read(p) for p in sorted((folder / "events").glob("*.json"))}
    if not events:
        raise FileNotFoundError(f"no event schemas under {folder / 'events'}")
    return Baseline(
        envelope=read(folder / "CloudEvent.json"),
        events=events,
        rule_codes=tuple(read(folder / "rule-codes.json")),
    )


def check(
    baseline: Baseline,
    *,
    envelope: Schema | None = None,
    events: Mapping[str, Schema] | None = None,
    rule_codes: Iterable[str] | None = None,
) -> list[BreakingChange]:
    """Every breaking change from `baseline` to the given contract (by default: the current
    models and rule codes), sorted."""
    current_events = event_schemas() if events is None else events
    return sorted(
        compare_schemas("CloudEvent", baseline.envelope, envelope or envelope_schema())
        + compare_events(baseline.events, current_events)
        + compare_rule_codes(
            baseline.rule_codes, [c.value for c in RuleCode] if rule_codes is None else rule_codes
        )
    )


def compare_rule_codes(old: Iterable[str], new: Iterable[str]) -> list[BreakingChange]:
    """Rule codes of `old` missing from `new`."""
    current = set(new)
    return [
        BreakingChange(f"rule code {code}", Change.RULE_CODE_REMOVED, "refusals may carry it")
        for code in old
        if code not in current
    ]


def compare_events(old: Mapping[str, Schema], new: Mapping[str, Schema]) -> list[BreakingChange]:
    """Event types of `old` missing from `new`, moved to another topic, or changed."""
    out: list[BreakingChange] = []
    for name, before in old.items():
        after = new.get(name)
        if after is None:
            out.append(BreakingChange(name, Change.EVENT_REMOVED, "no current event has this type"))
            continue
        if before.get("x-topic") != after.get("x-topic"):
            out.append(
                BreakingChange(
                    name,
                    Change.EVENT_MOVED,
                    f"{before.get('x-topic')} → {after.get('x-topic')}",
                )
            )
        out.extend(compare_schemas(name, before, after))
    return out


def compare_schemas(where: str, old: Schema, new: Schema) -> list[BreakingChange]:
    """Breaking changes from the JSON Schema `old` to `new` (each resolving its own `$ref`s)."""
    walk = _Walk(old, new)
    walk.compare(where, old, new)
    return walk.changes


@dataclass
class _Walk:
    old_root: Schema
    new_root: Schema
    changes: list[BreakingChange] = field(default_factory=list)
    _seen: set[tuple[str, str, str]] = field(default_factory=set)

    def add(self, where: str, change: Change, detail: str) -> None:
        self.changes.append(BreakingChange(where, change, detail))

    def compare(self, where: str, old: Schema, new: Schema) -> None:
        refs = (where, str(old.get("$ref", "")), str(new.get("$ref", "")))
        if refs[1] and refs[2]:
            if refs in self._seen:  # a recursive schema: this pair is already being compared
                return
            self._seen.add(refs)
        before = _variants(self.old_root, old)
        after = _variants(self.new_root, new)
        was_nullable = any(_types(v) == {"null"} for v in before)
        is_nullable = any(_types(v) == {"null"} for v in after)
        if was_nullable != is_nullable:
            self.add(
                where,
                Change.FIELD_RETYPED,
                "may now be null" if is_nullable else "may no longer be null",
            )
        before = [v for v in before if _types(v) != {"null"}]
        after = [v for v in after if _types(v) != {"null"}]
        if len(before) == 1 and len(after) == 1:
            self._compare_one(where, before[0], after[0])
            return
        for old_variant in before:
            same = [v for v in after if _types(v) == _types(old_variant)]
            if same:
                self._compare_one(where, old_variant, same[0])
            else:
                self.add(
                    where, Change.FIELD_RETYPED, f"no longer accepts {_name(_types(old_variant))}"
                )
        for new_variant in after:
            if not any(_types(v) == _types(new_variant) for v in before):
                self.add(where, Change.FIELD_RETYPED, f"now accepts {_name(_types(new_variant))}")

    def _compare_one(self, where: str, old: Schema, new: Schema) -> None:
        old_types, new_types = _types(old), _types(new)
        if old_types != new_types:
            self.add(where, Change.FIELD_RETYPED, f"{_name(old_types)} → {_name(new_types)}")
            return
        if old.get("format") != new.get("format"):
            self.add(
                where,
                Change.FIELD_RETYPED,
                f"format {old.get('format', 'none')} → {new.get('format', 'none')}",
            )
        old_values, new_values = _values(old), _values(new)
        if old_values != new_values:
            self.add(where, Change.VALUES_CHANGED, _values_detail(old_values, new_values))
        for key in BOUNDS:
            if old.get(key) != new.get(key):
                self.add(where, Change.BOUNDS_CHANGED, f"{key} {old.get(key)!r} → {new.get(key)!r}")
        if "object" in old_types:
            self._compare_object(where, old, new)
        if "array" in old_types and isinstance(old.get("items"), Mapping):
            self.compare(f"{where}[]", old["items"], new.get("items") or {})

    def _compare_object(self, where: str, old: Schema, new: Schema) -> None:
        old_fields: Mapping[str, Schema] = old.get("properties", {})
        new_fields: Mapping[str, Schema] = new.get("properties", {})
        old_required = set(old.get("required", ()))
        new_required = set(new.get("required", ()))
        for name, schema in old_fields.items():
            path = f"{where}.{name}"
            if name not in new_fields:
                kind = "required" if name in old_required else "optional"
                self.add(path, Change.FIELD_REMOVED, f"v1 events carry it ({kind})")
                continue
            if name in old_required and name not in new_required:
                self.add(path, Change.FIELD_NOW_OPTIONAL, "v1 consumers expect it always")
            elif name not in old_required and name in new_required:
                self.add(path, Change.FIELD_NOW_REQUIRED, "v1 events may lack it")
            self.compare(path, schema, new_fields[name])
        for name in sorted(set(new_fields) - set(old_fields)):
            if name in new_required:
                self.add(f"{where}.{name}", Change.NEW_REQUIRED_FIELD, "v1 events lack it")
        old_more, new_more = old.get("additionalProperties"), new.get("additionalProperties")
        if old_more is not False and new_more is False and not old_fields:
            self.add(where, Change.FIELD_RETYPED, "no longer accepts arbitrary members")
        if isinstance(old_more, Mapping) and isinstance(new_more, Mapping):
            self.compare(f"{where}[*]", old_more, new_more)


def _resolve(root: Schema, node: Schema) -> Schema:
    """`node` with its `$ref` (a local JSON pointer) replaced by the target, siblings kept."""
    while "$ref" in node:
        ref = str(node["$ref"])
        if not ref.startswith("#"):
            raise ValueError(f"only local references are supported, not {ref}")
        target: Any = root
        for part in ref[1:].split("/")[1:]:
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _variants(root: Schema, node: Schema) -> list[Schema]:
    """The alternatives a value may take: `anyOf`/`oneOf` flattened, type lists split."""
    node = _resolve(root, node)
    for key in ("anyOf", "oneOf"):
        if key in node:
            return [v for sub in node[key] for v in _variants(root, sub)]
    if isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
        return _variants(root, {**node["allOf"][0]})
    if isinstance(node.get("type"), list):
        return [{**node, "type": t} for t in node["type"]]
    return [node]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _types(node: Schema) -> frozenset[str]:
    kind = node.get("type")
    if isinstance(kind, str):
        return frozenset({kind})
    if "const" in node:
        return frozenset({_json_type(node["const"])})
    if isinstance(node.get("enum"), list):
        return frozenset(_json_type(v) for v in node["enum"])
    if "properties" in node:
        return frozenset({"object"})
    return frozenset({"any"})


def _name(types: frozenset[str]) -> str:
    return "|".join(sorted(types))


def _values(node: Schema) -> frozenset[str] | None:
    """The allowed values (JSON text) when the schema lists them, else None."""
    if "const" in node:
        return frozenset({json.dumps(node["const"])})
    if isinstance(node.get("enum"), list):
        return frozenset(json.dumps(v) for v in node["enum"])
    return None


def _values_detail(old: frozenset[str] | None, new: frozenset[str] | None) -> str:
    if old is None:
        return f"now limited to {', '.join(sorted(new or ()))}"
    if new is None:
        return f"no longer limited to {', '.join(sorted(old))}"
    parts = []
    if removed := sorted(old - new):
        parts.append(f"removed {', '.join(removed)}")
    if added := sorted(new - old):
        parts.append(f"added {', '.join(added)}")
    return "; ".join(parts)


def main(argv: list[str]) -> int:
    """Print the breaking changes from the baseline (default v1) to the current models."""
    baseline = load_baseline(Path(argv[0]) if argv else BASELINE_V1)
    changes = check(baseline)
    for change in changes:
        print(change)
    if not changes:
        print("compatible with the baseline")
    return 1 if changes else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
