"""Schema checks kept between runs: an unchanged rerun neither imports
jsonschema nor walks the schema.

Checking parameters against a schema (defaults, conversion, violations,
writeOnly values) gives the same result for the same inputs: the
parameters, the two switches, every schema file the check read (by
SHA-256), slapkit's and jsonschema's versions. The checks of a part's last
run are kept in ``.slapkit/schema/PART.json``: 0600 in a 0700 directory,
since parameters can be secrets. They are written only once the part has
done its work (``save``), so a run that fails changes nothing; an entry that
is missing, corrupt or stale is checked anew, never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from slapkit.core.files import read_regular_file
from slapkit.core.partition_state import STATE_DIR, cache_directory, keep_json, read_kept_json

RESULTS_DIR = "schema"
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\Z")


class SchemaError(Exception):
    """A schema that cannot be read or used (defined here, where jsonschema
    is not imported: a kept check needs none)."""


@dataclass
class Checked:
    """One check's result: the values completed, the violations, and the
    (path, value) of each writeOnly value."""

    completed: dict[str, Any]
    problems: list[str]
    secrets: list[tuple[tuple[Any, ...], Any]]


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _versions() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    import slapkit

    try:
        jsonschema_version = version("jsonschema")
    except PackageNotFoundError:
        jsonschema_version = ""
    return [slapkit.__version__, jsonschema_version]


def _as_json(value: Any) -> str | None:
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return None


def _file_matches(path: str, digest: Any) -> bool:
    data = read_regular_file(path) if isinstance(path, str) else None
    return data is not None and file_digest(data) == digest


@dataclass
class SchemaResults:
    """The kept checks of part ``part`` of the buildout in ``directory``."""

    directory: str
    part: str
    _kept: dict[str, Any] | None = None
    _used: dict[str, Any] = field(default_factory=dict)
    _version_list: list[str] | None = None

    @property
    def path(self) -> str:
        name = self.part if _PLAIN_NAME.match(self.part) else file_digest(self.part.encode())
        return os.path.join(self.directory, STATE_DIR, RESULTS_DIR, name + ".json")

    def _key(self, schema: str, values: Any, defaults: bool, convert: bool) -> str | None:
        if self._version_list is None:
            self._version_list = _versions()
        text = _as_json([os.path.abspath(schema), values, defaults, convert, self._version_list])
        return None if text is None else hashlib.sha256(text.encode()).hexdigest()

    def _entries(self) -> dict[str, Any]:
        if self._kept is None:
            entries = read_kept_json(self.directory, self.path).get("entries")
            self._kept = entries if isinstance(entries, dict) else {}
        return self._kept

    def _kept_result(self, key: str | None) -> Checked | None:
        """The kept result under ``key``, if every file it read is unchanged."""
        entry = self._entries().get(key) if key is not None else None
        try:
            if not entry or not all(_file_matches(p, d) for p, d in entry["files"].items()):
                return None
            checked = Checked(
                entry["completed"],
                [str(problem) for problem in entry["problems"]],
                [(tuple(path), value) for path, value in entry["secrets"]],
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            return None
        assert key is not None
        self._used[key] = entry
        return checked

    def _keep(self, key: str | None, files: dict[str, str], checked: Checked) -> None:
        """Keep a result made now (kept on disk by ``save``)."""
        entry = {
            "files": files,
            "completed": checked.completed,
            "problems": checked.problems,
            "secrets": [[list(path), value] for path, value in checked.secrets],
        }
        text = _as_json(entry)
        # Only what reads back as it was: the next run must get the same result.
        if key is not None and text is not None and json.loads(text) == entry:
            self._used[key] = entry

    def check(self, schema: str, values: Any, defaults: bool, convert: bool) -> Checked:
        """The kept result of this check, if its inputs are all unchanged, else
        the check made now (jsonschema imported then). Raises SchemaError."""
        key = self._key(schema, values, defaults, convert)
        kept = self._kept_result(key)
        if kept is not None:
            return kept
        try:
            from slapkit.instance.schema import ParameterSchema
        except ImportError:
            raise SchemaError(
                "JSON Schema validation needs jsonschema (install slapkit[schema])"
            ) from None
        checker = ParameterSchema(schema)
        completed = checker.complete(values, defaults=defaults, convert=convert)
        checked = Checked(
            completed, checker.errors(completed), checker.write_only_values(completed)
        )
        self._keep(key, checker.files, checked)
        return checked

    def save(self) -> None:
        """Keep this run's checks, and only them, for the next run."""
        if not self._used and self._kept is None:
            return
        if cache_directory(self.directory, RESULTS_DIR) is not None:
            keep_json(self.directory, self.path, {"entries": self._used})
