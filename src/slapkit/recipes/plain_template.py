"""``slapkit:template``: a plain template with buildout's ``${…}``, written as is."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.buildout_internals import substitute_text
from slapkit.core.claims import claim, remove_unclaimed
from slapkit.core.files import default_file_mode
from slapkit.core.options import PartOptions


class Template(BaseRecipe):
    """Write a template's text into ``output``, its ``${section:option}``
    references substituted by buildout; drop-in for plain slapos.recipe.template.

    Options:
      url      the template file (a path, relative to the buildout directory).
               Its ``${…}`` are substituted as buildout substitutes an
               option, ``$$`` gives ``$``; every other byte is kept, the
               final newline too. Or:
      inline   the template text (buildout has substituted it, like any
               option). Exactly one of the two.
      output   (required) the file to write. Missing directories above it are made
               (0777 less the umask) and kept on uninstall, as
               slapos.recipe.template does; never through a symbolic link
               in the buildout directory that no part makes.
      mode     octal mode of the output. Default: 0666 less the umask, 0777
               less the umask for a ``#!`` script whose interpreter is
               executable.
      md5sum   with ``url``: the template's expected MD5 (hex); another
               content is an error.

    The text is made when buildout reads the part (a broken reference stops
    the run before any part writes); the output is written only when its
    content or mode differ, and put back when changed by hand.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        opts = self.opts
        url, inline = opts.text("url"), options.get("inline")
        if (url is None) == (not inline):
            raise self.error("url", "give exactly one of 'url' and 'inline'")
        md5sum = opts.text("md5sum")
        if md5sum is not None and url is None:
            raise self.error("md5sum", "only for a template given by url")
        self.output = self.output_path("output", self.required_path("output"))
        claim(self.output)
        self.mode = opts.mode("mode")
        if url is None:
            assert inline is not None
            self.rendered = inline.encode("utf-8")
        else:
            path = self.local_path("url", url)
            assert path is not None
            source = self._read(path, md5sum)
            self.rendered = substitute_text(options, "url", source).encode("utf-8")

    def _read(self, path: str, md5sum: str | None) -> str:
        try:
            with open(path, "rb") as stream:
                data = stream.read()
        except OSError as exc:
            raise self.error("url", f"cannot read {path!r}: {exc.strerror}") from None
        if md5sum is not None:
            found = hashlib.md5(data).hexdigest()
            if found != md5sum.lower():
                raise self.error("md5sum", f"{path} has md5sum {found}, not {md5sum}")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise self.error("url", f"cannot read {path!r}: not UTF-8 text") from None

    def install(self) -> list[str]:
        mode = self.mode if self.mode is not None else default_file_mode(self.rendered)
        self.make_parent_directory("output", self.output)
        self.write("output", self.output, self.rendered, mode)
        return []


def uninstall(name: str, options: Mapping[str, str]) -> None:
    """The part is gone, or its options changed: remove its output unless a
    current part still writes it."""
    remove_unclaimed(name, [PartOptions(name, options).text("output") or ""])
