"""``slapkit:publish-early``: values published before the rest of the
instance is built, and given back to the sections that make them."""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.buildout_internals import AlreadyInitialized, initialize_with
from slapkit.core.claims import claim
from slapkit.core.concealment import conceal
from slapkit.core.partition_state import STATE_DIR
from slapkit.recipes.publish import (
    CONNECTION_FILE,
    SERIALISED_KEY,
    publish_to_file,
    publish_to_master,
    seal_of,
    server_url,
    trusted_record,
    will_publish,
)


class PublishEarly(BaseRecipe):
    """Publish values as soon as they exist, and hand what was published
    back to the sections that make them (slapos.cookbook's publish-early).

    Options:
      -init     lines ``KEY SECTION:OPTION``. Before [SECTION]'s recipe is
                constructed, its OPTION is set to the value published under
                KEY, when there is one (a password made on an earlier run,
                or on another machine, stays). Its value after construction
                is this part's KEY. Sections are read in the order of their
                first line, so one may use ``${publish-early:KEY}`` of an
                earlier one. A section read before this part is an error.
      <any>     ``KEY = value`` forces KEY to that value (its -init line is
                skipped); published too.

    When a value differs from what was published, all of them are
    published at once, when the part is constructed (it is usually only
    referenced, not in ``parts``) (SlapOS's JSON-in-XML form, one ``_`` parameter) to
    the master of the connection section (``slap-connection``), or without
    one into ``.slapkit/connection.json``. Outputs: each KEY, kept out of
    ``.installed.cfg`` (they are often secrets), and ``-publish`` naming
    every key, for a ``slapkit:publish.serialised`` part with
    ``-extends = publish-early``.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        forced = [key for key in self.option_names() if key != "recipe" and not key.startswith("-")]
        init = self._init_lines(set(forced))
        self.connection = self._connection()
        if not self._server_url():
            claim(self._local_file())
            will_publish(self._local_file(), {SERIALISED_KEY: ""})
        self.values: dict[str, str] = {}
        changed = False
        if init:
            published = self._published()
            for section, keys in init.items():
                override = {
                    option: published[key] for key, option in keys.items() if key in published
                }
                made = self._initialize(section, override)
                new = {}
                for key, option in keys.items():
                    value = made.get(option)
                    if value is not None:
                        self.values[key] = new[option] = value
                changed = changed or new != override
        conceal(options, tuple(self.values), self.values.get)
        options["-publish"] = " ".join(forced + [key for key in self.values if key not in forced])
        if changed:
            # Now, as the cookbook: the part is often only referenced (not in
            # parts), and what the instance requests next may need the values.
            self._publish({SERIALISED_KEY: json.dumps(self.values, sort_keys=True)})

    def _init_lines(self, forced: set[str]) -> dict[str, dict[str, str]]:
        init: dict[str, dict[str, str]] = {}
        for line in self.opts.lines("-init"):
            words = line.split()
            section, colon, option = words[-1].partition(":") if len(words) == 2 else ("", "", "")
            if not (section and colon and option):
                raise self.error("-init", f"{line!r} is not of the form KEY SECTION:OPTION")
            if section == self.name:
                raise self.error("-init", f"{line!r}: a section of its own cannot be read early")
            if words[0] not in forced:
                init.setdefault(section, {})[words[0]] = option
        return init

    def _connection(self) -> Any:
        try:
            return self.buildout["slap-connection"]
        except KeyError:
            return None

    def _server_url(self) -> str:
        return server_url(self.connection)

    def _published(self) -> dict[str, Any]:
        """What the instance published last (unwrapped from ``_``)."""
        if self._server_url():
            from slapkit.instance.master import MasterError, partition_of

            try:
                published = partition_of(self.connection).getConnectionParameterDict()
            except MasterError as exc:
                raise self.error("-init", str(exc)) from None
            except Exception as exc:
                raise self.error(
                    "-init",
                    f"cannot read what was published from {self._server_url()!r}: "
                    f"{type(exc).__name__}: {exc}",
                ) from None
        else:
            published = trusted_record(self.directory, self._local_file())
        try:
            return _unwrapped(published)
        except ValueError as exc:
            raise self.error("-init", str(exc)) from None

    def _local_file(self) -> str:
        return os.path.join(self.directory, STATE_DIR, CONNECTION_FILE)

    def _initialize(self, section: str, override: dict[str, str]) -> Any:
        try:
            return initialize_with(self.buildout, section, override)
        except AlreadyInitialized:
            raise self.error(
                "-init",
                f"[{section}] was read before [{self.name}]: its recipe ran without the "
                "published values (reference it only through this part)",
            ) from None
        except KeyError:
            raise self.error("-init", f"there is no section [{section}]") from None

    def install(self) -> list[str]:
        return []  # published when constructed

    def update(self) -> None:
        return None

    def _publish(self, payload: dict[str, str]) -> None:
        names = ", ".join(sorted(self.values))
        if self._server_url():
            try:
                publish_to_master(self.connection, payload)
            except ValueError as exc:
                raise self.error("-init", str(exc)) from None
            self.report("published early", names)
            return
        path = self._local_file()
        try:
            self.remove_stale_temporaries(path)
            self.remove_stale_temporaries(seal_of(path))
            written = publish_to_file(self.directory, path, payload)
        except (OSError, ValueError) as exc:
            raise self.error("-init", f"cannot publish to {path!r}: {exc}") from None
        if written:
            self.report("published early", f"{names} to {path}")


def _unwrapped(published: Any) -> dict[str, Any]:
    """The published values, taken out of ``_``; ValueError when what was
    published is not text by name (a value read back is an option's value)."""
    values: dict[str, Any] = dict(published or {})
    if isinstance(values.get(SERIALISED_KEY), str):
        try:
            inner = json.loads(values[SERIALISED_KEY])
        except RecursionError:
            raise ValueError("what was published nests too deep to be ours") from None
        except ValueError:
            inner = None
        if isinstance(inner, dict):
            values = dict(inner)
    for key, value in values.items():
        if not isinstance(value, str):
            raise ValueError(
                f"what was published holds a JSON {type(value).__name__} for {key!r}, expected text"
            )
    return values
