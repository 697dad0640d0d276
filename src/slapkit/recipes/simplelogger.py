"""``slapkit:simplelogger``: a script that appends what it reads to a log."""

from __future__ import annotations

import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.claims import claim, remove_unclaimed
from slapkit.core.files import executable_mode
from slapkit.core.options import PartOptions

SCRIPT = """#!{python}
# Written by slapkit:simplelogger for part [{part}]; edits are overwritten.
# Appends what it reads, each line stamped, and a separator line, to the log.
import sys
import time

stamp = time.strftime("%Y-%m-%d.%H:%M.%s:")
lines = sys.stdin.readlines()
with open({log!r}, "a") as log:
    log.write("".join(stamp + " " + line for line in lines))
    log.write(stamp + " ------------------------\\n")
"""


class SimpleLogger(BaseRecipe):
    """Drop-in for ``slapos.cookbook:simplelogger``.

    Options:
      wrapper  (required) the script written.
      log      (required) the file it appends to.

    The script reads its standard input and appends each line to ``log``,
    prefixed with the time as the cookbook's stamps it
    (``%Y-%m-%d.%H:%M.%s:``), then a separator line.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        self.wrapper = self.required_path("wrapper")
        claim(self.wrapper)
        log = self.required_path("log")
        self.script = SCRIPT.format(python=sys.executable, part=name, log=log)

    def install(self) -> list[str]:
        self.write("wrapper", self.wrapper, self.script, executable_mode())
        return []


def uninstall(name: str, options: Mapping[str, str]) -> None:
    remove_unclaimed(name, [PartOptions(name, options).text("wrapper") or ""])
