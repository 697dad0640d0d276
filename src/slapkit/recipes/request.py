"""``slapkit:request`` and its family: another instance, asked of the master."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.buildout_internals import as_read_back
from slapkit.core.concealment import conceal, kept_out_of_installed_cfg
from slapkit.core.files import read_regular_file
from slapkit.core.run_state import current
from slapkit.core.user_values import register_user_values

# What slapos.cookbook's request asks for when no software-type is given.
DEFAULT_SOFTWARE_TYPE = "RootSoftwareInstance"
STATES = ("started", "stopped", "destroyed")
SERIALISED_KEY = "_"
ANSWERS_MAX_BYTES = 1 << 20
CONNECTION_KEYS = ("server-url", "key-file", "cert-file", "computer-id", "partition-id")
# A name buildout can keep as an option of .installed.cfg.
_RETURNED_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")


class Request(BaseRecipe):
    """Request an instance of a software release, and read what it publishes
    (slapos.cookbook's ``request``).

    Options:
      software-url   (required) the software release of the instance.
      name           its reference; default: the part's name.
      software-type  default ``RootSoftwareInstance``, as the cookbook.
      config-NAME    the instance's parameter NAME (an empty value is no
                     parameter).
      sla-NAME       where it may run (an empty value is no constraint).
      return         the names it publishes that this part gives back, each
                     as the output ``connection-NAME``.
      shared         true: a shared instance (``slave`` is the older name).
      state          started, stopped or destroyed; default: the state
                     requested of this partition (``[slap-connection]``
                     ``requested-state``) when started or stopped, else
                     started.
      server-url, key-file, cert-file, computer-id, partition-id
                     the master; default: ``[slap-connection]``'s.

    Outputs: ``connection-NAME`` for each returned name, ``requested-state``;
    from a master, ``instance-guid``, ``instance-state`` and
    ``instance-status`` too (not for a shared instance).

    With a master (a ``server-url``), the request goes to it through
    slapos.core. Without one (``slapkit deploy``), the runner plays the
    master: the answers of ``slapkit deploy --requested FILE`` (the values
    each requested instance publishes, by name) are what the master gives
    back. A name the instance has not published yet stops the run at
    install (a mandatory request); ``slapkit:requestoptional`` gives it
    empty and goes on, saying so.
    """

    optional = False
    serialised = False

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        for obsolete in ("config", "sla"):
            if options.get(obsolete):
                raise self.error(
                    obsolete, "obsolete (as in slapos.cookbook): give config-NAME and sla-NAME"
                )
        opts = self.opts
        self.software_url = opts.required("software-url")
        self.reference = opts.text("name", name)
        self.software_type = opts.text("software-type", DEFAULT_SOFTWARE_TYPE)
        self.returned = opts.text("return", "").split()
        for key in self.returned:
            if not _RETURNED_NAME.match(key):
                raise self.error(
                    "return", f"{key!r} cannot be an option name (letters, digits, '_.-')"
                )
        names = self.option_names()
        self.parameters = _prefixed(opts, names, "config-")
        self.sla = _prefixed(opts, names, "sla-")
        self.shared = opts.boolean("shared", opts.boolean("slave"))
        self.state = opts.text("state", self._default_state())
        if self.state not in STATES:
            raise self.error("state", f"{self.state!r} is not one of {', '.join(STATES)}")
        options["requested-state"] = self.state
        self.connection = self._connection()
        self.problem: str | None = None
        self.problem_option = "name"
        if self.connection.get("server-url"):
            published = self._ask_master(options)
        else:
            published = self._local_answer()
        self.missing = [key for key in self.returned if key not in published]
        self._set_outputs({key: published.get(key, "") for key in self.returned})

    def _set_outputs(self, values: dict[str, str]) -> None:
        """``connection-NAME``: what another instance published is a user's
        data (its parameters came from users), so checks that refuse a
        hostile parameter refuse it too, and it is never decoded as a
        ``!py!`` object; a value holding a known secret is served, not saved."""
        register_user_values(list(values.values()))
        state = current()
        hidden = {}
        for key, value in values.items():
            option = f"connection-{key}"
            state.user_derived_options.add((self.name, option))
            text = as_read_back(value)
            if kept_out_of_installed_cfg(text):
                hidden[option] = text
            else:
                self.options[option] = text
        if hidden:
            conceal(self.options, tuple(sorted(hidden)), hidden.get)

    def _default_state(self) -> str:
        try:
            requested = self.buildout["slap-connection"].get("requested-state", "")
        except KeyError:
            requested = ""
        requested = (requested or "").strip()
        return requested if requested in ("started", "stopped") else "started"

    def _connection(self) -> dict[str, str]:
        """The master to ask: the part's own options, else [slap-connection]'s.
        A part made with ``<= slap-connection`` has all of that section's
        options: they are the connection's, read (not "unused")."""
        try:
            section: Mapping[str, str] = self.buildout["slap-connection"]
        except KeyError:
            section = {}
        for key in list(section.keys()):
            self.options.get(key)
        return {
            key: (self.opts.text(key) or (section.get(key) or "").strip())
            for key in CONNECTION_KEYS
        }

    def _sent_parameters(self) -> dict[str, str]:
        if self.serialised:
            return {SERIALISED_KEY: json.dumps(self.parameters, sort_keys=True)}
        return self.parameters

    def _ask_master(self, options: MutableMapping[str, str]) -> dict[str, str]:
        from slapkit.instance.master import MasterError, partition_of

        try:
            partition = partition_of(self.connection)
        except MasterError as exc:
            raise self.error("server-url", str(exc)) from None
        try:
            instance = partition.request(
                self.software_url,
                self.software_type,
                self.reference,
                partition_parameter_kw=self._sent_parameters(),
                filter_kw=self.sla,
                shared=self.shared,
                state=self.state,
            )
        except Exception as exc:  # slapos.core's NotFoundError, ResourceNotReady, network...
            url = _without_credentials(self.connection["server-url"])
            self.problem = (
                f"the master at {url!r} did not give {self.reference!r}: "
                f"{type(exc).__name__}: {_without_credentials(str(exc))}"
            )
            self.problem_option = "server-url"
            return {}
        if not self.shared:
            try:
                options["instance-guid"] = str(instance.getInstanceGuid())
                options["instance-state"] = str(instance.getState())
                options["instance-status"] = str(instance.getStatus())
            except Exception:  # an instance not allocated yet has none of them
                pass
        return self._published_by(instance)

    def _published_by(self, instance: Any) -> dict[str, str]:
        if self.serialised:
            try:
                value = json.loads(instance.getConnectionParameter(SERIALISED_KEY))
            except Exception:  # not published yet, not JSON, nested too deep
                return {}
            return _texts(value) if isinstance(value, dict) else {}
        found = {}
        for key in self.returned:
            try:
                found[key] = str(instance.getConnectionParameter(key))
            except Exception:  # NotFoundError: not published yet
                pass
        return found

    def _local_answer(self) -> dict[str, str]:
        """What ``slapkit deploy --requested`` says the instance publishes."""
        current().requested_names.add(self.reference)
        try:
            path = (self.buildout["slap-connection"].get("requested-file") or "").strip()
        except KeyError:
            path = ""
        if not path:
            self.problem = (
                f"no master to ask for {self.reference!r}, and no answer given "
                "(slapkit deploy --requested FILE)"
            )
            return {}
        try:
            data = read_regular_file(os.path.join(self.directory, path), ANSWERS_MAX_BYTES)
            answers = json.loads(data) if data is not None else None
        except (OSError, ValueError, RecursionError):
            answers = None
        if not isinstance(answers, dict):
            raise self.error(
                "name", f"the runner's answers {path!r} are not a JSON object of at most 1 MB"
            )
        answer = answers.get(self.reference)
        if answer is None:
            self.problem = (
                f"{self.reference!r} has no answer yet (slapkit deploy --requested FILE "
                "gives what it publishes)"
            )
            return {}
        if not isinstance(answer, dict):
            raise self.error("name", f"the answer for {self.reference!r} is not a JSON object")
        if self.serialised and isinstance(answer.get(SERIALISED_KEY), str):
            try:
                answer = json.loads(answer[SERIALISED_KEY])
            except (ValueError, RecursionError):
                raise self.error(
                    "name",
                    f"the answer for {self.reference!r} has a '_' that is not JSON "
                    "(or is nested too deep)",
                ) from None
        return _texts(answer) if isinstance(answer, dict) else {}

    def install(self) -> list[str]:
        if not self.missing and self.problem is None:
            return []
        why = self.problem or (
            f"{self.reference!r} has not published {', '.join(map(repr, self.missing))} yet"
        )
        if self.optional:
            # Read by the runner (its summary's warnings), whatever the
            # profile's log-level: never silent.
            print(f"{self.name}: optional request: {why}; its outputs are empty", flush=True)
            return []
        raise self.error(self.problem_option if self.problem else "return", why)

    def update(self) -> list[str]:
        return self.install()


class RequestOptional(Request):
    """``slapkit:requestoptional``: as ``slapkit:request``, but an instance
    not ready (nothing published yet, no answer, the master refusing) gives
    empty outputs and a warning instead of stopping the run."""

    optional = True


class RequestSerialised(Request):
    """``slapkit:request.serialised``: as ``slapkit:request``, the
    parameters sent as one JSON object in ``_`` and the returned values
    read from the JSON object the instance publishes in ``_``."""

    serialised = True


class RequestOptionalSerialised(RequestSerialised):
    """``slapkit:requestoptional.serialised``: both of the above."""

    optional = True


def _prefixed(opts: Any, names: list[str], prefix: str) -> dict[str, str]:
    values = {}
    for option in names:
        if option.startswith(prefix) and len(option) > len(prefix):
            value = opts.text(option)
            if value is not None:
                values[option[len(prefix) :]] = value
    return values


def _texts(values: Mapping[Any, Any]) -> dict[str, str]:
    return {
        str(key): value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        for key, value in values.items()
    }


def _without_credentials(text: str) -> str:
    """``text`` with the user and password of any URL in it left out."""
    return re.sub(
        r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@",
        lambda match: match.group(1),
        text,
    )
