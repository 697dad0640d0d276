"""``slapkit:parameters``: the instance's parameters merged over the profile's defaults."""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.secrets import conceal, register_secret

CONTROL_OPTIONS = frozenset({"recipe", "parameters-file", "schema", "connection-section"})
PREFIX = "configuration."


def render(value: Any) -> str:
    """A parameter as an option value: strings as is, the rest as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True)


class Parameters(BaseRecipe):
    """Merge the instance's parameters over defaults given in the profile.

    Options:
      <any>               a default: every option that is not a control option.
      parameters-file     a JSON object or SlapOS instance XML
                          (``<instance><parameter id="…">…</parameter></instance>``)
                          to read the parameters from; default: the
                          connection section's ``parameters-file`` (the local
                          runner writes it), else the master named by the
                          connection section, else no parameters.
      schema              a JSON Schema file (draft 7 or 2020-12; ``$ref`` to
                          sibling files): its defaults apply, string values are
                          converted to its types, and it validates.
      connection-section  default ``slap-connection``.

    A user value that is empty or null counts as absent. Values are set as
    data, never parsed as buildout syntax.

    Outputs: each parameter under its own name (unless a control option) and
    under ``configuration.<name>``; ``parameters-json``, all of them as JSON.
    Strings as is, other values as JSON text. Parameters a schema marks
    ``writeOnly`` are served to other parts but never stored by buildout.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        defaults = {
            key: options[key]
            for key in self.option_names()
            if key not in CONTROL_OPTIONS and not key.startswith("<")
        }
        user = self._read_user_parameters()
        merged = dict(defaults)
        for key, value in user.items():
            if value is None or value == "":
                continue  # empty counts as absent: the default stays
            merged[key] = value
        merged = self._apply_schema(merged)
        self._publish(merged)

    def _connection(self) -> MutableMapping[str, str] | None:
        section = self.opts.text("connection-section", "slap-connection")
        try:
            return self.buildout[section]
        except KeyError:
            if self.opts.text("connection-section"):
                raise self.error("connection-section", f"no section [{section}]") from None
            return None

    def _read_user_parameters(self) -> dict[str, Any]:
        from slapkit.slap.master import MasterError
        from slapkit.slap.sources import SourceError, fetch_from_master, read_parameters_file

        connection = self._connection()
        own_file = self.opts.text("parameters-file")
        connection_file = (connection.get("parameters-file") or "").strip() if connection else ""
        try:
            if own_file:
                path = os.path.join(self.buildout["buildout"]["directory"], own_file)
                return read_parameters_file(path)
            if connection_file:
                return read_parameters_file(connection_file)
        except SourceError as exc:
            raise self.error("parameters-file", str(exc)) from None
        if connection is not None and (connection.get("server-url") or "").strip():
            try:
                return fetch_from_master(connection)
            except (SourceError, MasterError) as exc:
                raise self.error("connection-section", str(exc)) from None
        return {}

    def _apply_schema(self, merged: dict[str, Any]) -> dict[str, Any]:
        path = self.opts.text("schema")
        if not path:
            return merged
        try:
            from slapkit.slap.schema import ParameterSchema, SchemaError
        except ImportError:
            raise self.error(
                "schema", "JSON Schema validation needs jsonschema (install slapkit[schema])"
            ) from None

        try:
            schema = ParameterSchema(os.path.join(self.buildout["buildout"]["directory"], path))
        except SchemaError as exc:
            raise self.error("schema", str(exc)) from None
        completed = schema.complete(merged)
        self.write_only = {key for key in completed if schema.write_only([key])}
        for key in self.write_only:
            if isinstance(completed[key], str):
                register_secret(completed[key])
        problems = schema.errors(completed)
        if problems:
            count = len(problems)
            raise self.error(
                "schema",
                f"{count} parameter error{'s' if count > 1 else ''}:\n  " + "\n  ".join(problems),
            )
        return completed

    write_only: set[str] = set()

    def _publish(self, merged: dict[str, Any]) -> None:
        hidden: dict[str, str] = {}
        for key, value in sorted(merged.items()):
            text = render(value)
            names = [PREFIX + key] + ([] if key in CONTROL_OPTIONS else [key])
            for option in names:
                if key in self.write_only:
                    hidden[option] = text
                else:
                    self.options[option] = text
        everything = json.dumps(merged, sort_keys=True)
        if hidden:
            hidden["parameters-json"] = everything
            conceal(self.options, tuple(hidden), hidden.get)
        else:
            self.options["parameters-json"] = everything

    def install(self) -> list[str]:
        return []  # reading parameters writes nothing

    def update(self) -> None:
        return None
