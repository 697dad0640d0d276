"""``slapkit:check_port_listening``: slapos.cookbook's port promise, by its options."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.claims import claim, remove_unclaimed
from slapkit.core.files import executable_mode
from slapkit.core.options import PartOptions
from slapkit.recipes.promise import checked_port, port_check


class CheckPortListening(BaseRecipe):
    """A promise that something listens on a TCP port; drop-in for
    ``slapos.cookbook:check_port_listening``.

    Options:
      path      (required) where the check goes (usually ``etc/promise/``).
      hostname  (required) the host name or address, e.g. ``${slap-configuration:ipv6-random}``.
      port      (required) the TCP port.

    The check exits 0 when a connection is accepted, else says on stderr
    that nothing listens, and why.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        self.path = self.required_path("path")
        claim(self.path)
        self.opts.required("port")
        port = checked_port(self, "port")
        host = self.opts.required("hostname")
        self.script = port_check(name, host, port, self, option="hostname")

    def install(self) -> list[str]:
        self.write("path", self.path, self.script, executable_mode())
        return []


def uninstall(name: str, options: Mapping[str, str]) -> None:
    remove_unclaimed(name, [PartOptions(name, options).text("path") or ""])
