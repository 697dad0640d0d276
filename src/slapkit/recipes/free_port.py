"""``slapkit:free_port``: a TCP port nothing listens on, chosen once."""

from __future__ import annotations

import io
import ipaddress
import os
import socket
from collections.abc import MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.files import read_regular_file


class FreePort(BaseRecipe):
    """Choose a free TCP port for ``ip`` (slapos.cookbook's free_port).

    Options:
      ip       the address to bind (IPv4 or IPv6). Another value gives port
               ``0`` (the cookbook's "any port").
      minimum  default 1024; maximum default 49151: ports tried from the
               minimum up, the maximum excluded as with the cookbook (the
               first free one, so the same one on the same machine); with
               minimum = maximum, that port, not checked.

    Output ``port``. Once chosen it is kept: the part's ``port`` saved in
    buildout's ``.installed.cfg`` is reused (the service holds it by then);
    a saved ``0`` is chosen again. Nothing free gives ``0``.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        minimum = self.opts.integer("minimum", 1024, 1, 65535)
        maximum = self.opts.integer("maximum", 49151, 1, 65535)
        if minimum > maximum:
            raise self.error("minimum", f"{minimum} is more than the maximum, {maximum}")
        kept = self._saved_port()
        if kept not in (None, "0"):
            options["port"] = kept
            return
        options["port"] = str(self._choose((self.opts.text("ip") or "").strip(), minimum, maximum))

    def _saved_port(self) -> str | None:
        import zc.buildout.configparser

        path = os.path.join(self.directory, self.buildout["buildout"].get("installed") or "")
        try:
            # Found in the partition: never a FIFO opened, never through a link.
            data = read_regular_file(path)
            if data is None:
                return None
            sections = zc.buildout.configparser.parse(io.StringIO(data.decode("utf-8")), path)
        except (OSError, UnicodeDecodeError, zc.buildout.configparser.Error):
            return None
        port = sections.get(self.name, {}).get("port", "").strip()
        return port if port.isascii() and port.isdigit() and int(port) <= 65535 else None

    def _choose(self, ip: str, minimum: int, maximum: int) -> int:
        if minimum == maximum:
            return minimum
        try:
            family = socket.AF_INET6 if ipaddress.ip_address(ip).version == 6 else socket.AF_INET
        except ValueError:
            return 0
        for port in range(minimum, maximum):
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                try:
                    probe.bind((ip, port))
                except OSError:
                    continue
                return port
        return 0

    def install(self) -> list[str]:
        return []

    def update(self) -> None:
        return None
