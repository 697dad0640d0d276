"""``slapkit:mkdirectory``: create directories, never remove them."""

from __future__ import annotations

import difflib
import os
from collections.abc import MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.directories import (
    first_existing_non_directory,
    make_directories,
    planted_link,
)

CONTROL_OPTIONS = frozenset({"recipe", "mode"})


class MkDirectory(BaseRecipe):
    """Create every directory named by an option.

    Options:
      mode   -- octal; directories this part creates (parents too) get exactly
                that mode. Default: 0777 less the umask, as slapos.cookbook.
      <any>  -- every other option is an absolute directory path (parents
                are created); an empty value is skipped, a relative one is
                an error (``mdoe = 0700`` would make a directory ``0700``).
                Other parts use them as ``${directory:etc}``. Options
                starting with ``-`` (publish's ``-publish``, ``-extends``),
                ``<`` or ``_`` (buildout's own) are not paths.

    An existing directory is kept as it is, content and mode. A path that
    exists and is not a directory is an error, and so is a symbolic link on
    the way to it inside the buildout directory that this configuration does
    not make itself (with ``slapkit:symbolic.link``): whatever the other
    parts write there would land wherever the link points. Nothing is
    returned to buildout, so nothing is removed on uninstall.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        self.mode = self.opts.mode("mode")
        self.directories: list[tuple[str, str]] = []
        for option in sorted(self.option_names()):
            if option in CONTROL_OPTIONS or option.startswith(("<", "_", "-")):
                continue
            path = self.opts.path(option)
            if path is None:
                continue
            if not os.path.isabs(path):
                raise self.error(option, _not_absolute(option, path))
            path = self.output_path(option, path)
            blocker = first_existing_non_directory(path)
            if blocker == path:
                raise self.error(option, f"{path!r} exists and is not a directory")
            if blocker is not None:
                raise self.error(option, f"cannot create {path!r}: {blocker!r} is not a directory")
            self.directories.append((option, path))

    def install(self) -> list[str]:
        # At install, not in the constructor: a link that a symbolic.link part
        # makes is claimed by that part's constructor, which may run after ours.
        for option, path in self.directories:
            link = planted_link(path, self.directory)
            if link is not None:
                raise self.error(
                    option,
                    f"{link!r} is a symbolic link (to {os.readlink(link)!r}) that no part of"
                    " this buildout makes: nothing is created or written through it;"
                    " remove it, or make it with slapkit:symbolic.link",
                )
        for option, path in self.directories:
            self._make(option, path)
        return []

    def _make(self, option: str, path: str) -> None:
        try:
            make_directories(path, self.mode, lambda made: self.report("created directory", made))
        except FileExistsError as exc:
            found = exc.filename or path
            raise self.error(option, f"{found!r} exists and is not a directory") from None
        except OSError as exc:
            failed = exc.filename or path  # the parent that could not be made, maybe
            raise self.error(option, f"cannot create {failed!r}: {exc.strerror}") from None


def _not_absolute(option: str, path: str) -> str:
    message = f"{path!r} is not an absolute path (every option but mode names a directory)"
    close = difflib.get_close_matches(option, sorted(CONTROL_OPTIONS - {"recipe"}), n=1)
    return message + (f"; did you mean {close[0]!r}?" if close else "")
