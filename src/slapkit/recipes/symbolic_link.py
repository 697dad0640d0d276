"""``slapkit:symbolic.link``: links to binaries, in one directory."""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.files import replace_symlink


class SymbolicLink(BaseRecipe):
    """Link each path of ``link-binary`` into ``target-directory`` under its
    own file name (slapos.cookbook's symbolic.link).

    Options:
      target-directory  (required) where the links go.
      link-binary       (required) paths, one a line (blanks separate them
                        too, as with the cookbook).

    A link already right is left alone; one pointing elsewhere is replaced
    (atomically); anything there that is not a link is an error. The links
    are the part's: removing the part removes them.
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
        return [link for link, _ in self.links]

    def update(self) -> list[str]:
        return self.install()
