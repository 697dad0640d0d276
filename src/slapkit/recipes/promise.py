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
    "url": """import ssl, urllib.error, urllib.request
url, expected, also_kept = {url!r}, {status!r}, {also_kept!r}
timeout, certificate = {timeout!r}, {certificate!r}
context = None
if {unverified!r} and url.startswith("https:"):
    context = ssl._create_unverified_context()
    if certificate:
        context.load_cert_chain(*certificate)
try:
    status = urllib.request.urlopen(url, timeout=timeout, context=context).status
except urllib.error.HTTPError as exc:
    status = exc.code
except (OSError, ValueError) as exc:
    reason = " ".join(str(getattr(exc, "reason", None) or exc).split())
    sys.exit("GET %s failed: %s" % (url, reason))
if status != expected and status not in also_kept:
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
        if self.kind == "port":
            self.script = port_check(
                name, opts.text("host", "127.0.0.1"), checked_port(self, "port"), self
            )
        elif self.kind == "url":
            status = opts.integer("status", 200, minimum=100, maximum=599)
            self.script = url_check(name, checked_url(self, "url"), status)
        else:
            opts.required("path")
            path = self.local_path("path")
            assert path is not None
            self.script = _script(name, "path", path=path)

    def install(self) -> list[str]:
        self.write("promise-path", self.path, self.script, executable_mode())
        return []


def checked_port(recipe: BaseRecipe, option: str) -> int:
    """The option's TCP port (1 to 65535)."""
    return recipe.opts.integer(option, 0, minimum=1, maximum=65535)


def checked_url(recipe: BaseRecipe, option: str) -> str:
    """The option's URL: http:// or https://, no blank, no control character."""
    url = recipe.opts.required(option)
    if not url.startswith(("http://", "https://")):
        raise recipe.error(option, f"{url!r} is not an http:// or https:// URL")
    if any(char.isspace() or not char.isprintable() for char in url):
        raise recipe.error(option, f"{url!r} holds a blank or a control character")
    return url


def _script(part: str, kind: str, **values: Any) -> str:
    return _HEADER.format(python=sys.executable, part=part) + _CHECKS[kind].format(**values)


def port_check(part: str, host: str, port: int, recipe: BaseRecipe, option: str = "host") -> str:
    """The check that something listens on ``host``:``port``."""
    if not host or any(char.isspace() or not char.isprintable() for char in host):
        raise recipe.error(option, f"{host!r} is not a host name or address")
    return _script(part, "port", host=host, port=port)


def url_check(
    part: str,
    url: str,
    status: int,
    also_kept: tuple[int, ...] = (),
    timeout: float = 10.0,
    unverified: bool = False,
    certificate: tuple[str, str] | None = None,
) -> str:
    """The check that a GET of ``url`` answers ``status`` (or one of ``also_kept``)."""
    return _script(
        part,
        "url",
        url=url,
        status=status,
        also_kept=also_kept,
        timeout=timeout,
        unverified=unverified,
        certificate=certificate,
    )


def uninstall(name: str, options: Mapping[str, str]) -> None:
    remove_unclaimed(name, [PartOptions(name, options).text("promise-path") or ""])
