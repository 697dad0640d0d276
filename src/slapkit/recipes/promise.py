"""``slapkit:promise``: an executable health check, as slapgrid runs them."""

from __future__ import annotations

import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.claims import claim, remove_unclaimed
from slapkit.core.files import executable_mode
from slapkit.core.options import PartOptions

KINDS = ("port", "url", "path")

_HEADER = """#!{python} -I
# Written by slapkit:promise for part [{part}]; edits are overwritten.
# Exit 0: the promise is kept; otherwise one line on stderr says what is wrong.
import sys
"""

_CHECKS = {
    "port": """import socket
host, port = {host!r}, {port!r}
try:
    socket.create_connection((host, port), timeout=5).close()
except OSError as exc:
    reason = " ".join(str(exc.strerror or exc).split())
    sys.exit("nothing listens on %s:%s (%s)" % (host, port, reason))
""",
    "url": """import urllib.error, urllib.request
url, expected = {url!r}, {status!r}
try:
    status = urllib.request.urlopen(url, timeout=10).status
except urllib.error.HTTPError as exc:
    status = exc.code
except (OSError, ValueError) as exc:
    reason = " ".join(str(getattr(exc, "reason", None) or exc).split())
    sys.exit("GET %s failed: %s" % (url, reason))
if status != expected:
    sys.exit("GET %s answered %s, expected %s" % (url, status, expected))
""",
    "path": """import os
path = {path!r}
if not os.path.exists(path):
    sys.exit("%s does not exist" % path)
""",
}


class Promise(BaseRecipe):
    """Write an executable check to ``promise-path`` (usually ``etc/promise/``).

    Options:
      promise-path  (required) where the check goes.
      port          something must listen on this TCP port; with
        host        default 127.0.0.1.
      url           an HTTP(S) GET must answer
        status      this status, default 200.
      path          this file must exist.
    Exactly one of ``port``, ``url``, ``path``. The check runs with the
    Python that runs buildout; it exits 0 when the promise is kept, else
    prints one line on stderr.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        opts = self.opts
        given = [kind for kind in KINDS if opts.text(kind) is not None]
        if len(given) != 1:
            raise self.error(
                "promise-path" if not given else given[1],
                "give exactly one of 'port', 'url' and 'path'",
            )
        self.kind = given[0]
        self.path = self.required_path("promise-path")
        claim(self.path)
        values: dict[str, Any] = {}
        if self.kind == "port":
            values["port"] = opts.integer("port", 0, minimum=1, maximum=65535)
            host = opts.text("host", "127.0.0.1")
            if any(char.isspace() or not char.isprintable() for char in host):
                raise self.error("host", f"{host!r} holds a blank or a control character")
            values["host"] = host
        elif self.kind == "url":
            url = opts.required("url")
            if not url.startswith(("http://", "https://")):
                raise self.error("url", f"{url!r} is not an http:// or https:// URL")
            if any(char.isspace() or not char.isprintable() for char in url):
                raise self.error("url", f"{url!r} holds a blank or a control character")
            values["url"] = url
            values["status"] = opts.integer("status", 200, minimum=100, maximum=599)
        else:
            opts.required("path")
            values["path"] = self.local_path("path")
        self.script = _HEADER.format(python=sys.executable, part=name) + _CHECKS[self.kind].format(
            **values
        )

    def install(self) -> list[str]:
        self.write("promise-path", self.path, self.script, executable_mode())
        return []


def uninstall(name: str, options: Mapping[str, str]) -> None:
    remove_unclaimed(name, [PartOptions(name, options).text("promise-path") or ""])
