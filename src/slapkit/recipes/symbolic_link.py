"""``slapkit:symbolic.link``: links to binaries, in one directory."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.claims import claim, is_claimed
from slapkit.core.files import replace_symlink
from slapkit.core.options import PartOptions


class SymbolicLink(BaseRecipe):
    """Link each path of ``link-binary`` into ``target-directory`` under its
    own file name (slapos.cookbook's symbolic.link).

    Options:
      target-directory  (required) where the links go.
      link-binary       (required) paths, one a line (blanks separate them
                        too, as with the cookbook).

    A link already right is left alone; one pointing elsewhere is replaced
    (atomically); anything there that is not a link is an error. The links
    are the part's: removing the part removes each of them *as a link*, and
    only while it is still a link to what the part linked (zc.buildout's own
    cleanup of returned paths followed a link to a directory and chmodded
    its target, outside the partition): no path is handed to zc.buildout.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        directory = self.required_path("target-directory")
        self.opts.required("link-binary")
        self.links: list[tuple[str, str]] = []
        seen: dict[str, str] = {}
        for line in self.opts.lines("link-binary"):
            for target in line.split():
                target = self.opts.checked_path("link-binary", target)
                link = os.path.join(directory, os.path.basename(target.rstrip("/")))
                if link in seen and seen[link] != target:
                    raise self.error(
                        "link-binary", f"{seen[link]!r} and {target!r} would have one link name"
                    )
                seen[link] = target
                self.links.append((link, target))
                claim(link)

    def install(self) -> list[str]:
        for link, _ in self.links:
            if os.path.lexists(link) and not os.path.islink(link):
                raise self.error("link-binary", f"{link!r} exists and is not a link")
        for link, target in self.links:
            if os.path.islink(link) and os.readlink(link) == target:
                continue
            existed = os.path.lexists(link)
            try:
                replace_symlink(target, link)
            except OSError as exc:
                raise self.error(
                    "target-directory", f"cannot link {link!r}: {exc.strerror}"
                ) from None
            self.report("updated" if existed else "created", f"{link} -> {target}")
        return []

    def update(self) -> list[str]:
        return self.install()


def uninstall(name: str, options: Mapping[str, str]) -> None:
    """The part is gone, or its options changed: remove each link it made
    that is still a link to what it linked and that no current part makes.
    A link is removed as a link; nothing it points to is touched."""
    opts = PartOptions(name, options)
    directory = opts.text("target-directory")
    if not directory:
        return
    log = logging.getLogger(name)
    for line in opts.lines("link-binary"):
        for target in line.split():
            link = os.path.join(directory, os.path.basename(target.rstrip("/")))
            if is_claimed(link):
                continue
            try:
                if os.readlink(link) != target:
                    continue  # not the link this part made: not ours to remove
                os.unlink(link)
            except OSError:
                continue  # gone, not a link, or not removable: left as it is
            log.info("removed %s", link)
