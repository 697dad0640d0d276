"""``slapkit:cron``: the wrapper that runs dcron for the partition's cron.d."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.claims import claim, remove_unclaimed
from slapkit.core.files import executable_mode
from slapkit.core.options import PartOptions
from slapkit.recipes.wrapper import shell_quote


class Cron(BaseRecipe):
    """Drop-in for ``slapos.cookbook:cron``: a service script that runs
    dcron in the foreground on the partition's own directories (entries are
    written by ``slapkit:cron.d``).

    Options (all required):
      binary         the script written (usually in ``etc/service``).
      dcrond-binary  dcron's ``crond``.
      cron-entries   the directory of entries (``-s``).
      crontabs       its crontabs directory (``-c``).
      cronstamps     its time stamps directory (``-t``).
      catcher        the command that gets each job's output (``-M``).
      log-file       dcron's log (``-L``).
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        self.binary = self.required_path("binary")
        claim(self.binary)
        command = [self.opts.required("dcrond-binary")]
        for flag, option in (("-s", "cron-entries"), ("-c", "crontabs"), ("-t", "cronstamps")):
            command += [flag, self.required_path(option)]
        command += ["-f", "-l", "5", "-M", self.opts.required("catcher")]
        command += ["-L", self.required_path("log-file")]
        self.script = (
            "#!/bin/sh\n"
            f"# Written by slapkit:cron for part [{name}]; edits are overwritten.\n"
            "exec " + " ".join(shell_quote(word) for word in command) + "\n"
        )

    def install(self) -> list[str]:
        self.write("binary", self.binary, self.script, executable_mode())
        return []


def uninstall(name: str, options: Mapping[str, str]) -> None:
    remove_unclaimed(name, [PartOptions(name, options).text("binary") or ""])
