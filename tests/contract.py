"""Checking a JSON answer against schema data kept in `tests/fixtures/` (compact OpenAPI, see `derive.py`).

`Checker(schemas).problems(value, schema, "$")` lists what the schema does not allow — a wrong JSON type, a null
where none is allowed, a value outside an enum, a required key missing, a key the schema does not name — as
`path: reason` strings. The fixture tests use it on the platforms' own examples; the sandbox contract suite uses it
on what the sandboxes answer.
"""

from __future__ import annotations

from typing import Any

JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


class Checker:
    """Which parts of a JSON value a compact OpenAPI schema does not allow (type, nullable, enum, required,
    undeclared keys), as `path: reason` strings."""

    def __init__(self, schemas: dict[str, Any]) -> None:
        self.schemas = schemas

    def problems(self, value: Any, schema: dict[str, Any], at: str, strict: bool = True) -> list[str]:
        if "$ref" in schema:
            return self.problems(value, self.schemas[schema["$ref"]], at, strict)
        if value is None:
            return [] if schema.get("nullable") or not schema else [f"{at}: null"]
        found = [p for part in schema.get("allOf", []) for p in self.problems(value, part, at, strict=False)]
        for key in ("oneOf", "anyOf"):
            if key in schema and all(self.problems(value, option, at) for option in schema[key]):
                found.append(f"{at}: matches no {key} option")
        kind = schema.get("type")
        a_bool_for_a_number = kind in ("integer", "number") and isinstance(value, bool)
        if kind is not None and (not isinstance(value, JSON_TYPES[kind]) or a_bool_for_a_number):
            return [*found, f"{at}: {type(value).__name__} where the schema has {kind}"]
        if "enum" in schema and value not in schema["enum"]:
            found.append(f"{at}: {value!r} is not one of {schema['enum']}")
        if isinstance(value, dict):
            found += self._object(value, schema, at, strict)
        if isinstance(value, list) and "items" in schema:
            found += [p for n, item in enumerate(value) for p in self.problems(item, schema["items"], f"{at}[{n}]")]
        return found

    def _object(self, value: dict[str, Any], schema: dict[str, Any], at: str, strict: bool) -> list[str]:
        declared = self.declared(schema)
        found = [f"{at}.{key}: undeclared" for key in value if strict and declared is not None and key not in declared]
        found += [f"{at}.{key}: required, missing" for key in schema.get("required", []) if key not in value]
        own = schema.get("properties", {})
        return found + [p for key in value if key in own for p in self.problems(value[key], own[key], f"{at}.{key}")]

    def declared(self, schema: dict[str, Any]) -> set[str] | None:
        """Every property a schema names, through `$ref` and `allOf`; None when it names none (anything goes)."""
        if "$ref" in schema:
            return self.declared(self.schemas[schema["$ref"]])
        names = set(schema["properties"]) if "properties" in schema else None
        for part in schema.get("allOf", []):
            more = self.declared(part)
            if more is not None:
                names = (names or set()) | more
        return names
