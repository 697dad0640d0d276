"""``slapkit:slapconfiguration.jsonschema``: the partition as the master
describes it, its parameters checked against the software release's
``software.cfg.json``."""

from __future__ import annotations

import json
import os
from typing import Any, NamedTuple

from slapkit.core.parameter_reads import mark_secret
from slapkit.instance.answer import DEFAULT_SOFTWARE_TYPE, OLD_DEFAULT_SOFTWARE_TYPE, InstanceAnswer
from slapkit.instance.schema_results import SchemaError, SchemaResults
from slapkit.instance.sources import SourceError
from slapkit.recipes.slapconfiguration import SlapConfiguration, unwrap, without_empty

SCOPES = ("none", "main", "shared", "all")
JSON_IN_XML = "json-in-xml"
SERIALISATIONS = ("xml", JSON_IN_XML)


class Scope(NamedTuple):
    main: bool
    shared: bool


class SoftwareDescription:
    """A software release's ``software.cfg.json``, for one software type."""

    def __init__(self, path: str, software_type: str):
        self.path = path
        if software_type in ("", OLD_DEFAULT_SOFTWARE_TYPE):
            software_type = DEFAULT_SOFTWARE_TYPE
        self.software_type = software_type
        try:
            with open(path, encoding="utf-8") as stream:
                self.data = json.load(stream)
        except OSError as exc:
            raise ValueError(f"cannot read {path!r}: {exc.strerror}") from None
        except ValueError as exc:
            raise ValueError(f"{path!r} is not JSON: {exc}") from None
        types = self.data.get("software-type") if isinstance(self.data, dict) else None
        if not isinstance(types, dict):
            raise ValueError(f"{path!r} has no 'software-type' object")
        self.types: dict[str, Any] = types

    def _entry(self) -> dict[str, Any] | None:
        entry = self.types.get(self.software_type)
        return entry if isinstance(entry, dict) else None

    def serialisation(self) -> str:
        entry = self._entry() or {}
        value = entry.get("serialisation", self.data.get("serialisation"))
        if value not in SERIALISATIONS:
            raise ValueError(
                f"{self.path!r} gives no valid 'serialisation' for software type "
                f"{self.software_type!r} (expected one of {', '.join(SERIALISATIONS)})"
            )
        return str(value)

    def _request_path(self, entry: dict[str, Any] | None) -> str | None:
        request = entry.get("request") if entry else None
        if not isinstance(request, str) or not request:
            return None
        if request.startswith("file://"):
            request = request[len("file://") :]
        if "://" in request:
            raise ValueError(f"{request!r}: only local schemas are supported")
        return os.path.join(os.path.dirname(self.path), request)

    def request_schema(self) -> str:
        path = self._request_path(self._entry())
        if path is None:
            raise ValueError(
                f"software type {self.software_type!r} has no entry with a 'request' "
                f"schema in {self.path!r} (types: {', '.join(sorted(self.types))})"
            )
        return path

    def shared_schema(self) -> str:
        for entry in self.types.values():
            if (
                isinstance(entry, dict)
                and entry.get("software-type") == self.software_type
                and entry.get("shared") is True
            ):
                path = self._request_path(entry)
                if path:
                    return path
        raise ValueError(
            f"software type {self.software_type!r} has no shared entry "
            f'("shared": true) in {self.path!r}'
        )


class SlapConfigurationJsonSchema(SlapConfiguration):
    """As ``slapkit:slapconfiguration``, the parameters checked against the
    schemas a ``software.cfg.json`` names for the partition's software type.

    Options, beside slapkit:slapconfiguration's (each scope option takes
    ``none``, ``main``, ``shared`` or ``all``):
      jsonschema           the ``software.cfg.json`` (required).
      validate-parameters  what to validate (default ``all``): the main
                           instance's parameters (every violation in one
                           error) and each shared instance's (the invalid
                           ones listed, not fatal).
      set-default          where the schemas' defaults apply (default ``none``).
      unstringify          where strings are converted to the schema's
                           types (default ``none``).
      report-error         where validation errors are reported to the
                           master, when there is one (default ``all``).
      unwrap-shared        (bool, default true) shared instances' ``_``
                           unwrapped when they are not validated.

    Outputs beside slapkit:slapconfiguration's, when shared instances are
    validated: ``valid-shared-instance-list`` and
    ``invalid-shared-instance-list`` (``{reference, parameters[, errors]}``
    each), in place of ``slave-instance-list``. writeOnly values are secrets.
    """

    def _scope(self, option: str, default: str) -> Scope:
        value = self.opts.text(option, default)
        if value not in SCOPES:
            raise self.error(option, f"{value!r} is not one of {', '.join(SCOPES)}")
        index = SCOPES.index(value)
        return Scope(bool(index & 1), bool(index & 2))

    def expand(self, parameters: dict[str, Any], answer: InstanceAnswer) -> Any:
        validate = self._scope("validate-parameters", "all")
        defaults = self._scope("set-default", "none")
        convert = self._scope("unstringify", "none")
        self.report_errors = self._scope("report-error", "all")
        self.answer = answer
        self.schema_results = SchemaResults(self.directory, self.name)
        software_type = str(self.outputs.get("slap-software-type") or "")
        try:
            description = SoftwareDescription(self.required_path("jsonschema"), software_type)
            serialisation = description.serialisation()
        except ValueError as exc:
            raise self.error("jsonschema", str(exc)) from None
        shared = self.outputs.get("slave-instance-list")
        if serialisation == JSON_IN_XML:
            parameters = unwrap(parameters)
            if not validate.shared and self.opts.boolean("unwrap-shared", True) and shared:
                self.outputs["slave-instance-list"] = [_unwrapped_shared(item) for item in shared]
        configuration = without_empty(parameters)
        if validate.main:
            configuration = self._validate_main(
                description,
                configuration if isinstance(configuration, dict) else {},
                defaults,
                convert,
            )
        if validate.shared:
            self.outputs.pop("slave-instance-list", None)
            valid, invalid = self._validate_shared(description, shared, defaults, convert)
            self.outputs["valid-shared-instance-list"] = valid
            self.outputs["invalid-shared-instance-list"] = invalid
        if validate.main or isinstance(configuration, dict):
            return configuration
        return {}

    def _check(
        self, path: str, values: dict[str, Any], defaults: bool, convert: bool
    ) -> tuple[dict[str, Any], list[str], list[tuple[tuple[Any, ...], Any]]]:
        try:
            checked = self.schema_results.check(path, values, defaults, convert)
        except SchemaError as exc:
            raise self.error("jsonschema", str(exc)) from None
        return checked.completed, checked.problems, checked.secrets

    def install(self) -> list[str]:
        installed = super().install()
        self.schema_results.save()
        return installed

    def _validate_main(
        self,
        description: SoftwareDescription,
        values: dict[str, Any],
        defaults: Scope,
        convert: Scope,
    ) -> dict[str, Any]:
        try:
            path = description.request_schema()
        except ValueError as exc:
            raise self.error("jsonschema", str(exc)) from None
        completed, problems, secrets = self._check(path, values, defaults.main, convert.main)
        mark_secret(self.directory, {str(secret_path[0]) for secret_path, _ in secrets})
        for secret_path, value in secrets:
            self.hide(value, "configuration", "configuration." + str(secret_path[0]))
        if problems:
            count = len(problems)
            message = (
                f"{count} parameter error{'s' if count > 1 else ''} for software type "
                f"{description.software_type!r}:\n  " + "\n  ".join(problems)
            )
            if self.report_errors.main:
                self._report(message, None)
            raise self.error("jsonschema", message)
        return completed

    def _validate_shared(
        self, description: SoftwareDescription, shared: Any, defaults: Scope, convert: Scope
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        valid: list[dict[str, Any]] = []
        invalid: list[dict[str, Any]] = []
        items = [item for item in shared or [] if isinstance(item, dict)]
        if not items:
            return valid, invalid
        try:
            path = description.shared_schema()
        except ValueError as exc:
            raise self.error("jsonschema", str(exc)) from None
        for item in items:
            entry = dict(item)
            reference = str(entry.pop("slave_reference", ""))
            try:
                values = without_empty(unwrap(entry))
            except SourceError as exc:  # that shared instance alone is refused
                values, refused = {}, [str(exc)]
            else:
                refused = []
            if not isinstance(values, dict):
                values = {}
            completed, problems, secrets = self._check(
                path, values, defaults.shared, convert.shared
            )
            problems = refused or problems
            for _, value in secrets:
                self.hide(value, "valid-shared-instance-list", "invalid-shared-instance-list")
            result: dict[str, Any] = {"reference": reference, "parameters": completed}
            if problems:
                result["errors"] = "\n".join(problems)
                invalid.append(result)
                if self.report_errors.shared:
                    self._report(result["errors"], reference)
            else:
                valid.append(result)
        return valid, invalid

    def _report(self, message: str, shared_reference: str | None) -> None:
        """Tell the master (when there is one) why the instance is not deployed."""
        partition = self.answer.partition
        if partition is None:
            return
        try:
            if shared_reference is None:
                partition.error(message)
            else:
                partition.error(message, slave_reference=shared_reference)
        except Exception as exc:  # the report is a courtesy: the run goes on
            self.log.warning("could not report the error to the master: %s", exc)


def _unwrapped_shared(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    entry = dict(item)
    try:
        payload = unwrap({"_": entry.pop("_")}) if isinstance(entry.get("_"), str) else None
    except SourceError:
        payload = None  # left out: nothing this deep is handed on
    if isinstance(payload, dict):
        for key, value in payload.items():
            entry.setdefault(key, value)
    return entry
