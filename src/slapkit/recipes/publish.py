"""``slapkit:publish``: connection parameters, to the master or to a local file."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import MutableMapping
from typing import Any

from slapkit.core import BaseRecipe, serialised
from slapkit.core.claims import claim, remove_unclaimed
from slapkit.core.concealment import conceal, concealed_names
from slapkit.core.files import read_regular_file, write_if_changed
from slapkit.core.partition_state import (
    KEPT_MAX_BYTES,
    STATE_DIR,
    authenticated,
    keep,
    read_kept,
    state_directory,
)
from slapkit.core.run_state import current

CONNECTION_FILE = "connection.json"
SHARED_CONNECTION_FILE = "shared-connection.json"
CONTROL_OPTIONS = frozenset({"recipe", "connection-section"})
# The cookbook's control options, refused (an empty one is skipped).
NOT_IMPLEMENTED = ("-error-status-file",)
# publish.serialised: every value in one parameter, JSON, as the cookbook.
SERIALISED_KEY = "_"


class Publish(BaseRecipe):
    """Publish every option (but ``recipe``) as a connection parameter.

    Options:
      <any>               a connection parameter, e.g. ``url = http://…``;
                          not one whose name starts with ``-`` or ``<``.
      -extends            sections whose options are published too (and those
                          their own ``-extends`` name); this part's win.
      -publish            in this part or an extended section: publish only
                          these of its options.
      -slave-reference    publish to this shared instance (its
                          ``slave_reference``) instead of the partition's
                          own instance; without a master into
                          ``.slapkit/shared-connection.json``, by reference.
      connection-section  default ``slap-connection``. When it names a
                          master (``server-url``), parameters go there through
                          slapos.core; otherwise into
                          ``${buildout:directory}/.slapkit/connection.json``
                          (0600), which ``slapkit deploy`` shows.

    Nothing is sent or written when the values did not change since the
    last publication. The values (often passwords) are kept out of
    ``.installed.cfg`` and of buildout's output.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        self.refuse(
            NOT_IMPLEMENTED, "slapos.cookbook's publish option is not implemented by slapkit"
        )
        own = self._published_keys(self.name, options)
        # Which section each value comes from (a profile's !py! value there is read as its object).
        self.sources: dict[str, str] = {}
        self.values = {**self._extended_values(), **{key: options[key] for key in own}}
        self.sources.update({key: self.name for key in own})
        conceal(options, tuple(own), self.values.get)
        self.payload = self._payload()
        self.shared_reference = self.opts.text("-slave-reference")
        section = self.opts.text("connection-section", "slap-connection")
        try:
            self.connection = buildout[section]
        except KeyError:
            self.connection = None
        self.state = os.path.join(self.directory, STATE_DIR)
        if not self._server_url():
            claim(self._record())
            will_publish(self._record(), self.payload, self.shared_reference)

    def _published_keys(self, name: str, section: Any) -> list[str]:
        names = (
            self.option_names()
            if name == self.name
            else list(section.keys()) + list(concealed_names(section))
        )
        listed = section.get("-publish")
        if listed is not None:
            return [key for key in listed.split() if key in names]
        control = CONTROL_OPTIONS if name == self.name else {"recipe"}
        return [key for key in names if key not in control and not key.startswith(("-", "<"))]

    def _extended_values(self) -> dict[str, str]:
        """The options of the sections ``-extends`` names, transitively."""
        values: dict[str, str] = {}
        done = {self.name}
        pending = (self.options.get("-extends") or "").split()
        while pending:
            name = pending.pop(0)
            if name in done:
                continue
            done.add(name)
            try:
                section = self.buildout[name]
            except KeyError:
                raise self.error("-extends", f"there is no section [{name}]") from None
            for key in self._published_keys(name, section):
                if key not in values:
                    values[key] = section[key]
                    self.sources[key] = name
            pending += (section.get("-extends") or "").split()
        return values

    def _server_url(self) -> str:
        return server_url(self.connection)

    def _payload(self) -> dict[str, str]:
        return {key: self._text(key, value) for key, value in self.values.items()}

    def _objects(self) -> dict[str, Any]:
        """The values, a profile's ``!py!`` one as the object it stands for."""
        return {key: self._object(key, value) for key, value in self.values.items()}

    def _object(self, key: str, value: str) -> Any:
        try:
            return serialised.decoded(value, self.sources.get(key, self.name), key)
        except serialised.NotALiteral as exc:
            raise self.error(key, str(exc)) from None

    def _text(self, key: str, value: str) -> str:
        try:
            return serialised.option_text(value, self.sources.get(key, self.name), key)
        except serialised.NotALiteral as exc:
            raise self.error(key, str(exc)) from None

    def _record(self) -> str:
        """The local record this part publishes to when there is no master."""
        name = SHARED_CONNECTION_FILE if self.shared_reference else CONNECTION_FILE
        return os.path.join(self.state, name)

    def install(self) -> list[str]:
        if self._server_url():
            self._publish_to_master()
        else:
            self._publish_to_file()
        return []

    def _publish_to_file(self) -> None:
        # No master in the connection section: the connection-section option
        # is what sends the values to this file.
        shared = self.shared_reference
        path = self._record()
        try:
            self.remove_stale_temporaries(path)
            self.remove_stale_temporaries(seal_of(path))
            changed = publish_to_file(self.directory, path, self.payload, shared)
        except ValueError as exc:
            raise self.error("connection-section", f"no master: {exc}") from None
        except OSError as exc:
            raise self.error(
                "connection-section", f"no master: cannot write {path!r}: {exc.strerror}"
            ) from None
        if changed:
            to = f" for shared instance {shared!r}" if shared else ""
            self.report("published", ", ".join(sorted(self.values)) + f"{to} to {path}")

    def _publish_to_master(self) -> None:
        url = self._server_url()
        digest = hashlib.sha256(
            json.dumps([url, self.shared_reference, self.payload], sort_keys=True).encode("utf-8")
        ).hexdigest()
        record = os.path.join(self.state, f"published-{self.name}")
        try:
            # Only a record slapkit kept (never a FIFO, a link, a planted file
            # that would make the run skip publishing).
            kept = read_kept(self.directory, record)
        except OSError:
            kept = None
        if kept == digest.encode("ascii"):
            return  # sent already; the master has these values
        try:
            publish_to_master(self.connection, self.payload, self.shared_reference)
        except ValueError as exc:
            raise self.error("connection-section", str(exc)) from None
        try:
            state_directory(self.directory)
            self.remove_stale_temporaries(record)
            write_if_changed(
                record, authenticated(self.directory, record, digest.encode("ascii")), 0o600
            )
        except OSError as exc:
            raise self.error(
                "connection-section",
                f"published to {url!r}, but cannot keep the record {record!r}: {exc.strerror}",
            ) from None
        to = f" for shared instance {self.shared_reference!r}" if self.shared_reference else ""
        self.report("published", ", ".join(sorted(self.values)) + f"{to} to {url}")


def uninstall(name: str, options: Any) -> None:
    """The part is gone or changed: a local record that no part of the new
    configuration publishes to is removed (what it holds is published by
    nothing any more). zc.buildout runs this in the buildout directory."""
    del options
    state = os.path.abspath(STATE_DIR)
    remove_unclaimed(name, [os.path.join(state, CONNECTION_FILE)])
    remove_unclaimed(name, [os.path.join(state, SHARED_CONNECTION_FILE)])


class PublishSerialised(Publish):
    """``slapkit:publish.serialised``: as ``slapkit:publish``, every value in
    one connection parameter ``_`` holding them as a JSON object (keys
    sorted), as slapos.cookbook's publish.serialised."""

    def _payload(self) -> dict[str, str]:
        return {SERIALISED_KEY: json.dumps(self._objects(), sort_keys=True, default=_listed)}


def _listed(value: Any) -> Any:
    """JSON for what a literal holds beyond JSON: a set or a tuple as a list."""
    if isinstance(value, (set, tuple)):
        return sorted(value, key=repr) if isinstance(value, set) else list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def server_url(connection: Any) -> str:
    """The master's URL in a connection section; empty when there is none."""
    return (connection.get("server-url") or "").strip() if connection is not None else ""


def publish_to_master(connection: Any, payload: dict[str, str], shared: str | None = None) -> None:
    """Send ``payload`` to the master of ``connection`` (for shared instance
    ``shared``); ValueError saying why it could not."""
    from slapkit.instance.master import MasterError, partition_of

    try:
        partition = partition_of(connection or {})
        if shared:
            partition.setConnectionDict(payload, slave_reference=shared)
        else:
            partition.setConnectionDict(payload)
    except MasterError as exc:
        raise ValueError(str(exc)) from None
    except Exception as exc:
        raise ValueError(
            f"cannot publish to the master at {server_url(connection)!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from None


def publish_to_file(
    directory: str, path: str, payload: dict[str, str], shared: str | None = None
) -> bool:
    """Merge ``payload`` into the local record ``path`` (under ``shared``'s
    entry when given); whether the file changed. The record holds what this
    run's parts published: keys no part of this run publishes (an earlier
    run's, or a hand's) are dropped, and a record slapkit did not write (its
    seal does not match) counts as empty. OSError when it cannot be written."""
    published = trusted_record(directory, path)
    kept = current().published_keys.get(os.path.abspath(path), set())
    merged: dict[str, Any] = {}
    for key, value in published.items():
        if (key,) in kept:
            merged[key] = value
        elif isinstance(value, dict):  # a shared instance's entry
            inner = {name: v for name, v in value.items() if (key, name) in kept}
            if inner:
                merged[key] = inner
    if shared:
        earlier: Any = merged.get(shared)
        merged[shared] = {**(earlier if isinstance(earlier, dict) else {}), **payload}
    else:
        merged.update(payload)
    state_directory(directory)
    data = (json.dumps(merged, indent=2, sort_keys=True) + "\n").encode("utf-8")
    changed = write_if_changed(path, data, 0o600)
    keep(directory, seal_of(path), hashlib.sha256(data).hexdigest().encode("ascii"))
    return changed


def seal_of(path: str) -> str:
    """Where the proof that slapkit wrote the record ``path`` is kept."""
    return os.path.splitext(path)[0] + ".seal"


def trusted_record(directory: str, path: str) -> dict[str, Any]:
    """What this partition's runs published to the local record ``path``: the
    master's memory when there is no master (publish-early hands it back to
    the profile, the runner shows it). A record edited, planted or cut short
    (its digest is not the one slapkit kept, with the partition's salt) is
    not used: it counts as nothing published."""
    try:
        data = read_regular_file(path, KEPT_MAX_BYTES)
    except OSError:
        return {}
    if data is None:
        return {}
    seal = read_kept(directory, seal_of(path))
    digest = hashlib.sha256(data).hexdigest().encode("ascii")
    if seal is None or not hmac.compare_digest(seal, digest):
        return {}
    try:
        published = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return {}
    return published if isinstance(published, dict) else {}


def will_publish(path: str, payload: dict[str, str], shared: str | None = None) -> None:
    """Say, while parts are constructed, which keys a part will publish to
    the local record ``path``: what the record holds besides is dropped at
    the run's first write."""
    keys = current().published_keys.setdefault(os.path.abspath(path), set())
    keys.update((shared, key) if shared else (key,) for key in payload)
