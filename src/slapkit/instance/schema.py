"""JSON Schema for instance parameters: defaults, string conversion, validation.

SlapOS masters hand every parameter over as a string (XML), so a schema
typed ``integer`` would reject ``"2048"``: strings are converted to the
schema's type first, where they convert cleanly.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import referencing.exceptions
import referencing.jsonschema
from jsonschema.exceptions import ValidationError

from slapkit.instance.schema_results import SchemaError, file_digest
from slapkit.instance.sources import MAX_DEPTH

# Validators whose message names properties and never quotes a value.
_NAMES_ONLY = frozenset({"required", "additionalProperties", "dependentRequired"})
# Subschemas that apply to the same value.
_SAME_VALUE = ("allOf", "anyOf", "oneOf", "if", "then", "else")


class ParameterSchema:
    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        # Every file read, by SHA-256: what a kept result depends on.
        self.files: dict[str, str] = {}
        self.root = self._load(self.path)
        self.base_uri = Path(self.path).as_uri()
        default_spec = referencing.jsonschema.DRAFT7
        self.registry: referencing.Registry[Any] = referencing.Registry(
            retrieve=self._retrieve  # type: ignore[call-arg]
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

    def _load(self, path: str) -> Any:
        try:
            with open(path, "rb") as stream:
                data = stream.read()
        except OSError as exc:
            raise SchemaError(f"cannot read {path!r}: {exc.strerror}") from None
        self.files[path] = file_digest(data)
        try:
            return json.loads(data.decode("utf-8"))
        except ValueError as exc:
            raise SchemaError(f"{path!r} is not JSON: {exc}") from None

    def _retrieve(self, uri: str) -> referencing.Resource:
        # $ref to a sibling file: "other.json#/definitions/x" or file:// URIs.
        # Never the network: an instance runs offline.
        path = uri[len("file://") :] if uri.startswith("file://") else uri
        if "://" in path or path.startswith(("http:", "https:")):
            raise SchemaError(f"$ref {uri!r}: only local files are supported")
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

    def complete(
        self, values: dict[str, Any], defaults: bool = True, convert: bool = True
    ) -> dict[str, Any]:
        """``values`` with the schema's defaults for absent properties and
        strings converted to the schema's types, wherever validation reaches
        a property (``properties`` behind ``$ref``, ``allOf``/``anyOf``/
        ``oneOf``, ``if``/``then``/``else``, array items). A copy: the
        values given are not changed. ``defaults`` and ``convert`` turn
        either half off."""
        result = copy.deepcopy(values)
        if not (defaults or convert):
            return result
        completing_class = _completing(self.validator_class, defaults, convert)
        validator = completing_class(self.root, registry=self.registry)
        with _reference_errors():
            for _ in validator.iter_errors(result):
                pass  # reported by errors(), on the completed values
        return result

    def write_only_values(self, values: Any) -> list[tuple[tuple[Any, ...], Any]]:
        """(path, value) of every value the schema marks ``writeOnly``, at any
        depth (properties, additional and pattern properties, array items,
        ``allOf``/``anyOf``/``oneOf``), of any type.

        Nothing is left unlooked at: subschemas of the same value are
        followed until they repeat (a recursive ``allOf`` costs nothing), and
        values nested deeper than the parameters may nest (``MAX_DEPTH``)
        refuse the whole input, never let a secret through."""
        found: list[tuple[tuple[Any, ...], Any]] = []
        with _reference_errors():
            self._find_write_only(values, self.root, self.resolver, (), found, set())
        return found

    def _find_write_only(
        self,
        value: Any,
        schema: Any,
        resolver: Any,
        path: tuple[Any, ...],
        found: list[tuple[tuple[Any, ...], Any]],
        seen: set[int],
    ) -> None:
        """``seen``: the subschemas already applied to this very value."""
        if len(path) > MAX_DEPTH:
            raise SchemaError(f"the parameters nest deeper than {MAX_DEPTH} levels")
        if isinstance(schema, dict) and "$ref" in schema and len(schema) > 1:
            # A $ref with keywords beside it (2019-09 and later apply both):
            # each is a subschema of the same value.
            if id(schema) in seen:
                return
            seen.add(id(schema))
            siblings = {key: sub for key, sub in schema.items() if key != "$ref"}
            for part in ({"$ref": schema["$ref"]}, siblings):
                self._find_write_only(value, part, resolver, path, found, seen)
            return
        schema, resolver = self._resolve(schema, resolver)
        if not isinstance(schema, dict) or id(schema) in seen:
            return
        seen.add(id(schema))
        if path and (
            schema.get("writeOnly")
            or (not isinstance(value, (dict, list)) and self._mentions_write_only(schema, resolver))
        ):
            # A scalar where the schema holds writeOnly values below (a
            # string given for a list of tokens) is taken as one of them.
            found.append((path, value))
            return
        for keyword in _SAME_VALUE:
            subs = schema.get(keyword)
            for sub in subs if isinstance(subs, list) else [subs] if subs else []:
                self._find_write_only(value, sub, resolver, path, found, seen)
        if isinstance(value, dict):
            # Subschemas a present key brings in, for the same object.
            for keyword in ("dependentSchemas", "dependencies"):
                brought = schema.get(keyword)
                if isinstance(brought, dict):
                    for key, sub in brought.items():
                        if key in value and isinstance(sub, dict):
                            self._find_write_only(value, sub, resolver, path, found, seen)
            properties = schema.get("properties") or {}
            patterns = schema.get("patternProperties") or {}
            for key, item in value.items():
                subs = [properties[key]] if key in properties else []
                subs += [sub for pattern, sub in patterns.items() if _search(pattern, key)]
                if not subs and isinstance(schema.get("additionalProperties"), dict):
                    subs = [schema["additionalProperties"]]
                for sub in subs:
                    self._find_write_only(item, sub, resolver, path + (key,), found, set())
        elif isinstance(value, list):
            prefix = schema.get("prefixItems") or (
                schema["items"] if isinstance(schema.get("items"), list) else []
            )
            rest = schema.get("items") if isinstance(schema.get("items"), dict) else None
            for index, item in enumerate(value):
                sub = prefix[index] if index < len(prefix) else rest
                if sub is not None:
                    self._find_write_only(item, sub, resolver, path + (index,), found, set())

    def _mentions_write_only(
        self, schema: Any, resolver: Any, seen: set[int] | None = None
    ) -> bool:
        """Whether ``writeOnly: true`` stands anywhere in ``schema`` ($ref
        followed, each subschema looked at once)."""
        seen = set() if seen is None else seen
        schema, resolver = self._resolve(schema, resolver)
        if isinstance(schema, (dict, list)):
            if id(schema) in seen:
                return False
            seen.add(id(schema))
        if isinstance(schema, dict):
            if schema.get("writeOnly") is True:
                return True
            return any(
                self._mentions_write_only(sub, resolver, seen)
                for key, sub in schema.items()
                if key not in ("default", "examples", "const", "enum")
            )
        if isinstance(schema, list):
            return any(self._mentions_write_only(sub, resolver, seen) for sub in schema)
        return False

    def errors(self, values: dict[str, Any]) -> list[str]:
        """Every violation, one line each: ``path: what is wrong``.

        The message of a violation at, above or below a ``writeOnly`` value
        never quotes a value: it could quote the secret.
        """
        validator = self.validator_class(self.root, registry=self.registry)
        secrets = [path for path, _ in self.write_only_values(values)]
        with _reference_errors():
            found = sorted(
                validator.iter_errors(values), key=lambda e: list(map(str, e.absolute_path))
            )
        return [self._describe(error, secrets) for error in found]

    def _describe(self, error: ValidationError, secrets: list[tuple[Any, ...]]) -> str:
        path = tuple(error.absolute_path)
        where = "/".join(str(p) for p in path) or "(parameters)"
        at_or_inside = any(path[: len(secret)] == secret for secret in secrets)
        above = any(_related(path, secret) for secret in secrets)
        if at_or_inside or (above and error.validator not in _NAMES_ONLY):
            return f"{where}: the value (hidden: writeOnly) fails '{error.validator}'"
        return f"{where}: {error.message} ('{error.validator}')"


def _related(path: tuple[Any, ...], secret: tuple[Any, ...]) -> bool:
    """Whether one path is the other or inside it."""
    shorter = min(len(path), len(secret))
    return path[:shorter] == secret[:shorter]


def _search(pattern: str, text: str) -> bool:
    # check_schema has refused a pattern that is not a regular expression.
    return re.search(pattern, text) is not None


class _Probe:
    """Sent down a property's subschema in place of its absent (or string)
    value, to learn its ``default`` and ``type`` wherever they stand ($ref
    included): jsonschema resolves, the two keywords below record."""

    def __init__(self) -> None:
        self.defaults: list[Any] = []
        self.types: list[Any] = []


@functools.lru_cache(maxsize=32)
def _completing(
    validator_class: Any, apply_defaults: bool = True, convert_strings: bool = True
) -> Any:
    """The schema's validator class, extended (jsonschema's own extension
    pattern) so that validating completes the values it walks."""
    original_properties = validator_class.VALIDATORS["properties"]
    original_type = validator_class.VALIDATORS["type"]

    def properties(validator: Any, schemas: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if isinstance(instance, dict):
            for name, subschema in schemas.items():
                value = instance.get(name)
                if name in instance and not isinstance(value, str):
                    continue
                probe = _Probe()
                for _ in validator.descend(probe, subschema, path=name, schema_path=name):
                    pass
                if name not in instance and probe.defaults and apply_defaults:
                    instance[name] = copy.deepcopy(probe.defaults[0])
                elif isinstance(value, str) and probe.types and convert_strings:
                    instance[name] = convert(value, {"type": probe.types[0]})
        yield from original_properties(validator, schemas, instance, schema)

    def type_(validator: Any, types: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if isinstance(instance, _Probe):
            instance.types.append(types)
            return
        yield from original_type(validator, types, instance, schema)

    def default(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if isinstance(instance, _Probe):
            instance.defaults.append(value)
        return iter(())

    return jsonschema.validators.extend(
        validator_class, {"properties": properties, "type": type_, "default": default}
    )


class _reference_errors:
    """Turn a ``$ref`` that cannot be resolved into a SchemaError."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        if error is None:
            return
        if isinstance(error, referencing.exceptions.Unresolvable) or isinstance(
            getattr(error, "__cause__", None), SchemaError
        ):
            cause = _root_cause(error)
            raise SchemaError(f"cannot resolve a $ref: {cause}") from None
        if isinstance(error, RecursionError):
            raise SchemaError("the schema or the parameters nest too deep") from None


def _root_cause(error: BaseException) -> str:
    seen = 0
    while seen < 16:
        cause = error.__cause__ or error.__context__
        if cause is None:
            break
        error, seen = cause, seen + 1
    return str(error)


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
            return (
                int(number)
                if number.is_integer() and "." not in text and "e" not in text.lower()
                else number
            )
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
