"""``slapkit:parameters``: the instance's parameters merged over the profile's defaults."""

from __future__ import annotations

import json
import re
from collections.abc import MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.buildout_internals import as_read_back
from slapkit.core.concealment import conceal, kept_out_of_installed_cfg
from slapkit.core.parameter_reads import EVERY_PARAMETER, mark_secret, offer
from slapkit.core.secrets import register_secret
from slapkit.core.user_values import register_user_values
from slapkit.instance.schema_results import SchemaError, SchemaResults

CONTROL_OPTIONS = frozenset({"recipe", "parameters-file", "schema", "connection-section"})
PREFIX = "configuration."
JSON_OUTPUT = "parameters-json"
# The parameter names that may become option names. zc.buildout writes option
# names into .installed.cfg as they are: a name with a newline would write
# sections of the user's choosing there (and "uninstall" them next run), and
# "=", ":", "[", "<" or a leading "_" mean something to buildout. Every other
# name stays inside parameters-json.
_OPTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")


def is_plain_option_name(name: str) -> bool:
    """Whether a parameter named ``name`` may become an option of that name."""
    return bool(_OPTION_NAME.match(name)) and not name.startswith(PREFIX) and name != JSON_OUTPUT


def as_option_text(value: Any) -> str:
    """A parameter as an option value: strings as is, the rest as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True)


def buildout_text(value: Any) -> Any:
    """A string as zc.buildout will read it back from ``.installed.cfg``
    (CR as LF, outer tabs and control characters gone): otherwise the part
    would differ from its saved self and reinstall on every run."""
    return as_read_back(value) if isinstance(value, str) else value


def secret_texts(value: Any) -> list[str]:
    """The texts under which a secret value may show: itself, and as JSON."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool) or value is None:
        # A yes, a no or nothing hides nothing, and as a secret every "true"
        # of every file and message would be blanked (and the file 0600).
        return []
    texts = [json.dumps(value, sort_keys=True)]
    if isinstance(value, (dict, list)):
        children = value.values() if isinstance(value, dict) else value
        for child in children:
            texts += secret_texts(child)
    else:
        texts.append(str(value))
    return texts


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
    Strings as is (CR line breaks as LF: buildout's text cannot hold a CR),
    other values as JSON text; ``parameters-json`` keeps every value
    exactly. Only a parameter whose name is
    a plain option name (letters, digits, ``_.-``, not starting with ``_``
    or ``configuration.``) becomes options; every parameter is in
    ``parameters-json``. Values a schema marks ``writeOnly`` (at any depth)
    and values quoting a generated secret are served to other parts but
    never stored by buildout.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        defaults = {
            key: options[key]
            for key in self.option_names()
            if key not in CONTROL_OPTIONS and not key.startswith("<")
        }
        user = self._read_user_parameters()
        register_user_values([buildout_text(value) for value in user.values()])
        merged = dict(defaults)
        for key, value in user.items():
            if value is None or value == "":
                continue  # empty counts as absent: the default stays
            merged[key] = value
        merged = self._apply_schema(merged)
        self._set_outputs(merged)

    def _connection(self) -> MutableMapping[str, str] | None:
        section = self.opts.text("connection-section", "slap-connection")
        try:
            connection: MutableMapping[str, str] = self.buildout[section]
            return connection
        except KeyError:
            if self.opts.text("connection-section"):
                raise self.error("connection-section", f"no section [{section}]") from None
            return None

    def _read_user_parameters(self) -> dict[str, Any]:
        from slapkit.instance.master import MasterError
        from slapkit.instance.sources import SourceError, fetch_from_master, read_parameters_file

        connection = self._connection()
        own_file = self.opts.path("parameters-file")
        connection_file = (connection.get("parameters-file") or "").strip() if connection else ""
        try:
            if own_file:
                return read_parameters_file(self.required_path("parameters-file"))
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
        self.secret_keys: set[str] = set()
        self.schema_results: SchemaResults | None = None
        path = self.local_path("schema")
        if not path:
            return merged
        results = self.schema_results = SchemaResults(self.directory, self.name)
        try:
            checked = results.check(path, merged, True, True)
        except SchemaError as exc:
            raise self.error("schema", str(exc)) from None
        # Every writeOnly value, at any depth and of any type, is a secret;
        # the top-level parameters holding one are hidden whole.
        for secret_path, value in checked.secrets:
            self.secret_keys.add(str(secret_path[0]))
            for text in secret_texts(value):
                register_secret(text)
        mark_secret(self.directory, self.secret_keys)  # before a failed check stops the run
        problems, completed = checked.problems, checked.completed
        if problems:
            count = len(problems)
            raise self.error(
                "schema",
                f"{count} parameter error{'s' if count > 1 else ''}:\n  " + "\n  ".join(problems),
            )
        return completed

    def _set_outputs(self, merged: dict[str, Any]) -> None:
        """Set the outputs; those that hold a secret, or are long, are served, not stored."""
        outputs: dict[str, str] = {}
        secret: set[str] = set()
        for key, value in sorted(merged.items()):
            if not is_plain_option_name(key):
                continue  # only in parameters-json
            text = buildout_text(as_option_text(value))
            names = [PREFIX + key] + ([] if key in CONTROL_OPTIONS else [key])
            for option in names:
                outputs[option] = text
                if key in self.secret_keys or kept_out_of_installed_cfg(text):
                    secret.add(option)
        outputs[JSON_OUTPUT] = everything = json.dumps(merged, sort_keys=True)
        if secret or self.secret_keys or kept_out_of_installed_cfg(everything):
            secret.add(JSON_OUTPUT)
        carried = {option: option.removeprefix(PREFIX) for option in outputs}
        offer(self.name, {**carried, JSON_OUTPUT: EVERY_PARAMETER})
        for option, text in outputs.items():
            if option not in secret:
                self.options[option] = text
        if secret:
            hidden = {option: outputs[option] for option in secret}
            conceal(self.options, tuple(sorted(hidden)), hidden.get)

    def install(self) -> list[str]:
        if self.schema_results is not None:
            self.schema_results.save()
        return []  # the parameters are read, not written

    def update(self) -> None:
        self.install()
