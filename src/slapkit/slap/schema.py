"""JSON Schema for instance parameters: defaults, string conversion, validation.

SlapOS masters hand every parameter over as a string (XML), so a schema
typed ``integer`` would reject ``"2048"``: strings are converted to the
schema's type first, where they convert cleanly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema
from jsonschema.exceptions import ValidationError


class SchemaError(Exception):
    pass


class ParameterSchema:
    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self.root = self._load(self.path)
        self.base_uri = Path(self.path).as_uri()
        default_spec = referencing.jsonschema.DRAFT7
        self.registry: referencing.Registry = referencing.Registry(
            retrieve=self._retrieve
        ).with_resource(
            self.base_uri,
            referencing.Resource.from_contents(self.root, default_specification=default_spec),
        )
        self.validator_class = jsonschema.validators.validator_for(
            self.root, default=jsonschema.Draft7Validator
        )
        try:
            self.validator_class.check_schema(self.root)
        except jsonschema.SchemaError as exc:
            raise SchemaError(f"{self.path} is not a valid JSON Schema: {exc.message}") from None
        self.resolver = self.registry.resolver(base_uri=self.base_uri)

    @staticmethod
    def _load(path: str) -> Any:
        try:
            with open(path, encoding="utf-8") as stream:
                return json.load(stream)
        except OSError as exc:
            raise SchemaError(f"cannot read {path!r}: {exc.strerror}") from None
        except ValueError as exc:
            raise SchemaError(f"{path!r} is not JSON: {exc}") from None

    def _retrieve(self, uri: str) -> referencing.Resource:
        # $ref to a sibling file: "other.json#/definitions/x" or file:// URIs.
        path = uri[len("file://"):] if uri.startswith("file://") else uri
        if not os.path.isabs(path):
            path = os.path.join(os.path.dirname(self.path), path)
        return referencing.Resource.from_contents(
            self._load(path), default_specification=referencing.jsonschema.DRAFT7
        )

    def _resolve(self, schema: Any, resolver: Any) -> tuple[Any, Any]:
        """Follow ``$ref`` (with the resolver of where it was found)."""
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 32:
            resolved = resolver.lookup(schema["$ref"])
            schema, resolver = resolved.contents, resolved.resolver
            seen += 1
        return schema, resolver

    def _properties(self, schema: Any, resolver: Any) -> Iterator[tuple[str, Any, Any]]:
        schema, resolver = self._resolve(schema, resolver)
        if not isinstance(schema, dict):
            return
        for name, sub in (schema.get("properties") or {}).items():
            sub, sub_resolver = self._resolve(sub, resolver)
            yield name, sub, sub_resolver
        for key in ("allOf",):
            for part in schema.get(key) or []:
                yield from self._properties(part, resolver)

    def complete(self, values: dict[str, Any]) -> dict[str, Any]:
        """Apply defaults for absent properties and convert strings to types."""
        return self._complete(values, self.root, self.resolver)

    def _complete(self, values: dict[str, Any], schema: Any, resolver: Any) -> dict[str, Any]:
        result = dict(values)
        for name, sub, sub_resolver in self._properties(schema, resolver):
            if not isinstance(sub, dict):
                continue
            if name not in result and "default" in sub:
                result[name] = sub["default"]
            if name in result:
                result[name] = convert(result[name], sub)
                if isinstance(result[name], dict):
                    result[name] = self._complete(result[name], sub, sub_resolver)
        return result

    def write_only(self, path: list[Any]) -> bool:
        """Whether the value at ``path`` (or one of its parents) is ``writeOnly``."""
        schema, resolver = self.root, self.resolver
        for key in path:
            found = None
            for name, sub, sub_resolver in self._properties(schema, resolver):
                if name == key:
                    found = (sub, sub_resolver)
            if found is None:
                return False
            schema, resolver = found
            if isinstance(schema, dict) and schema.get("writeOnly"):
                return True
        return False

    def errors(self, values: dict[str, Any]) -> list[str]:
        """Every violation, one line each: ``path: what is wrong``."""
        validator = self.validator_class(self.root, registry=self.registry)
        lines = []
        for error in sorted(validator.iter_errors(values), key=lambda e: list(map(str, e.absolute_path))):
            lines.append(self._describe(error))
        return lines

    def _describe(self, error: ValidationError) -> str:
        path = list(error.absolute_path)
        where = "/".join(str(p) for p in path) or "(parameters)"
        if self.write_only(path):
            return f"{where}: the value (hidden: writeOnly) fails '{error.validator}'"
        return f"{where}: {error.message} ('{error.validator}')"


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind]
    return list(kind) if isinstance(kind, list) else []


def convert(value: Any, schema: dict[str, Any]) -> Any:
    """A string converted to the schema's type, when it converts cleanly."""
    if not isinstance(value, str):
        return value
    types = _types(schema)
    if not types or "string" in types:
        return value
    text = value.strip()
    for kind in types:
        if kind == "integer":
            try:
                return int(text, 10)
            except ValueError:
                continue
        if kind == "number":
            try:
                number = float(text)
            except ValueError:
                continue
            return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
        if kind == "boolean" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if kind in ("object", "array"):
            try:
                parsed = json.loads(text)
            except ValueError:
                continue
            if isinstance(parsed, dict if kind == "object" else list):
                return parsed
        if kind == "null" and text in ("", "null"):
            return None
    return value
