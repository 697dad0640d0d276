"""``slapkit:wrapper``: an ``sh`` script that ``exec``s a command."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.claims import claim, is_claimed, remove_unclaimed
from slapkit.core.files import current_umask
from slapkit.core.options import PartOptions
from slapkit.core.secrets import holds_secret

DIGEST_LENGTH = 16
_DIGEST_SUFFIX = re.compile(r"-[0-9a-f]{%d}\Z" % DIGEST_LENGTH)


def shell_quote(value: str) -> str:
    """One shell word that is exactly ``value``, never expanded."""
    return "'" + value.replace("'", "'\\''") + "'"


def files_digest(script: str, paths: Iterable[str]) -> str:
    digest = hashlib.sha256(script.encode("utf-8"))
    for path in paths:
        with open(path, "rb") as stream:
            content = stream.read()
        digest.update(b"\0%d\0" % len(content))
        digest.update(content)
    return digest.hexdigest()[:DIGEST_LENGTH]


class Wrapper(BaseRecipe):
    """Write an executable POSIX ``sh`` script ending in ``exec`` of a command.

    Options:
      command-line         (required) the command, split like a shell line;
                           every argument is quoted in the script, so no value
                           is ever run as shell code.
      wrapper-path         (required) the script's path, usually in
                           ``etc/service`` or ``etc/run``.
      environment          lines of ``NAME=value``, exported before ``exec``.
      parameters-extra     boolean, default false: pass the wrapper's own
                           arguments on to the command.
      wait-for-files       lines of paths: wait until all exist.
      pidfile              refuse to start while the pid recorded there is
                           alive; otherwise record our own.
      hash-files           files made by this buildout (configs): a digest of
                           their content (and of the script) is appended to the
                           file name, so a change gives a new program name and
                           slapgrid restarts the service. The previous hashed
                           wrapper of this part is removed.
      hash-existing-files  the same for files that exist before buildout runs.

    Output option ``wrapper-path``: the final path, digest included. With
    ``hash-existing-files`` alone it is known when the part is read, so other
    parts may reference it; with ``hash-files`` it is set when the part runs.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        opts = self.opts
        self.arguments = opts.command("command-line")
        self.base_path = self._absolute(opts.required("wrapper-path"))
        claim(self.base_path)
        self.environment = opts.assignments("environment")
        self.parameters_extra = opts.boolean("parameters-extra", False)
        self.wait_for_files = opts.paths("wait-for-files")
        pidfile = opts.text("pidfile")
        self.pidfile = self._absolute(pidfile) if pidfile else None
        self.hash_files = [self._absolute(p) for p in opts.lines("hash-files")]
        self.hash_existing_files = [
            self._absolute(p) for p in opts.lines("hash-existing-files")
        ]
        for path in self.hash_existing_files:
            if not os.path.isfile(path):
                raise self.error("hash-existing-files", f"{path!r} does not exist")
        self.script = self._script()
        if self.hash_existing_files and not self.hash_files:
            options["wrapper-path"] = self._final_path()

    def _absolute(self, path: str) -> str:
        return os.path.join(self.buildout["buildout"]["directory"], path)

    @property
    def hashed(self) -> bool:
        return bool(self.hash_files or self.hash_existing_files)

    def _final_path(self) -> str:
        if not self.hashed:
            return self.base_path
        for path in self.hash_files:
            if not os.path.isfile(path):
                raise self.error("hash-files", f"{path!r} does not exist")
        try:
            digest = files_digest(self.script, self.hash_existing_files + self.hash_files)
        except OSError as exc:
            raise self.error("hash-files", f"cannot read {exc.filename!r}: {exc.strerror}") from None
        return f"{self.base_path}-{digest}"

    def _script(self) -> str:
        lines = [
            "#!/bin/sh",
            f"# Written by slapkit:wrapper for part [{self.name}]; edits are overwritten.",
        ]
        for variable, value in self.environment:
            lines.append(f"export {variable}={shell_quote(value)}")
        if self.wait_for_files:
            tests = " && ".join(f"[ -e {shell_quote(p)} ]" for p in self.wait_for_files)
            waited = shell_quote(", ".join(self.wait_for_files))
            lines += [
                f"if ! {{ {tests}; }}; then",
                f"  echo \"${{0##*/}}: waiting for \"{waited} >&2",
                f"  until {tests}; do sleep 0.2 2>/dev/null || sleep 1; done",
                "fi",
            ]
        if self.pidfile:
            pidfile = shell_quote(self.pidfile)
            lines += [
                f"if [ -s {pidfile} ]; then",
                f"  read slapkit_pid < {pidfile} || :",
                "  case \"$slapkit_pid\" in ''|*[!0-9]*) ;; *)",
                "    if [ \"$slapkit_pid\" != $$ ] && kill -0 \"$slapkit_pid\" 2>/dev/null; then",
                f"      echo \"${{0##*/}}: already running as pid $slapkit_pid (\"{pidfile}\")\" >&2",
                "      exit 1",
                "    fi;;",
                "  esac",
                "fi",
                f"echo $$ > {shell_quote(self.pidfile + '.tmp')} && "
                f"mv -f {shell_quote(self.pidfile + '.tmp')} {pidfile}",
            ]
        command = " ".join(shell_quote(argument) for argument in self.arguments)
        if self.parameters_extra:
            command += ' "$@"'
        lines.append(f"exec {command}")
        return "\n".join(lines) + "\n"

    def install(self) -> list[str]:
        path = self._final_path()
        self.options["wrapper-path"] = path
        # A wrapper that exports a secret is readable by its owner only.
        mode = 0o700 if holds_secret(self.script) else 0o777 & ~current_umask()
        self.write("wrapper-path", path, self.script, mode)
        if self.hashed:
            listing = _listing(os.path.dirname(path))
            listing.add(os.path.basename(path))
            for stale in hashed_siblings(self.base_path):
                if stale != path:
                    self.remove(stale)
                    listing.discard(os.path.basename(stale))
        # Nothing is returned: removal is this recipe's own (see uninstall), so
        # that a new digest never makes buildout see a missing file and reinstall.
        return []


class _Listing:
    """The hashed wrappers of one directory, by base name.

    Read once per buildout process and kept up to date with this module's
    own writes: a profile with hundreds of hashed wrappers in one directory
    would otherwise list (and scan) it once per wrapper.
    """

    def __init__(self, directory: str):
        self.by_base: dict[str, set[str]] = {}
        try:
            names = os.listdir(directory)
        except OSError:
            names = []
        for name in names:
            self.add(name)

    def add(self, name: str) -> None:
        if _DIGEST_SUFFIX.search(name):
            self.by_base.setdefault(name[: -DIGEST_LENGTH - 1], set()).add(name)

    def discard(self, name: str) -> None:
        self.by_base.get(name[: -DIGEST_LENGTH - 1], set()).discard(name)


_listings: dict[str, _Listing] = {}


def _listing(directory: str) -> _Listing:
    listing = _listings.get(directory)
    if listing is None:
        listing = _listings[directory] = _Listing(directory)
    return listing


def hashed_siblings(base_path: str) -> list[str]:
    """Every ``base_path-<digest>`` file."""
    directory, base = os.path.split(base_path)
    names = _listing(directory).by_base.get(base, ())
    return sorted(os.path.join(directory, name) for name in names)


def uninstall(name: str, options: Mapping[str, str]) -> None:
    """Remove the wrapper (every digest of it) when its part goes away."""
    opts = PartOptions(name, options)
    path = opts.text("wrapper-path")
    if not path:
        return
    candidates = [path]
    if opts.lines("hash-files") or opts.lines("hash-existing-files"):
        base = _DIGEST_SUFFIX.sub("", path)
        if is_claimed(base):
            return  # the new part writes this wrapper and removes stale digests
        candidates = [base, *hashed_siblings(os.path.abspath(base))]
    remove_unclaimed(name, candidates)
