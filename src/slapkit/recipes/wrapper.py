"""``slapkit:wrapper``: an ``sh`` script that ``exec``s a command."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.buildout_internals import raw_value, substitute
from slapkit.core.claims import claim, is_claimed, remove_unclaimed
from slapkit.core.files import executable_mode
from slapkit.core.options import PartOptions
from slapkit.core.partition_state import (
    DIGEST,
    DIGEST_LENGTH,
    has_digest,
    is_program_name,
    partition_salt,
    without_digest,
)
from slapkit.core.run_state import current
from slapkit.core.secrets import holds_secret
from slapkit.recipes.wrapper_exec import HELPER, signal_number

# slapos.cookbook's wrapper options this recipe refuses when given: none left.
NOT_IMPLEMENTED: tuple[str, ...] = ()
# A tmpfs size as mount(8) takes it; nothing else reaches the mount options.
_TMPFS_SIZE = re.compile(r"([0-9]{1,20})([kKmMgG%]?)\Z")
_TMPFS_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
# The largest private tmpfs: 1 TiB (1024g), or 100% of the memory. The
# kernel takes 0 as "no limit", and a number past 2**64 bytes wraps around.
TMPFS_MAX = 1 << 40


def _not_a_file(path: str) -> str:
    return f"{path!r} is not a file" if os.path.lexists(path) else f"{path!r} does not exist"


def shell_quote(value: str) -> str:
    """One shell word that is exactly ``value``, never expanded."""
    return "'" + value.replace("'", "'\\''") + "'"


def files_digest(salt: bytes, script: str, paths: Iterable[str]) -> str:
    """HMAC-SHA256 of the script and the files, keyed with the partition's salt:
    a script that exports a weak password cannot be guessed from its name."""
    digest = hmac.new(salt, script.encode("utf-8"), hashlib.sha256)
    for path in paths:
        with open(path, "rb") as stream:
            content = stream.read()
        digest.update(b"\0%d\0" % len(content))
        digest.update(content)
    return digest.hexdigest()[:DIGEST_LENGTH]


class Wrapper(BaseRecipe):
    """Write an executable POSIX ``sh`` script ending in ``exec`` of a command.

    Options:
      command-line         (required) the command. Substituted first, then
                           split like a shell line (blanks separate words,
                           quotes group them), so a value brought in by
                           ``${…}`` may give several arguments. Every argument
                           is quoted in the script: no value is ever run as
                           shell code.
      arguments            lines, each exactly one more argument: the lines
                           are taken from the profile's text before
                           substitution, so a ``${…}`` fills one argument
                           whatever it holds (blanks, quotes, line breaks).
      wrapper-path         (required) the script's path, usually in
                           ``etc/service`` or ``etc/run``; its file name must
                           be a supervisord program name (letters, digits,
                           ``_.+@-``).
      environment          lines of ``NAME=value``, exported before ``exec``.
      parameters-extra     boolean, default false: pass the wrapper's own
                           arguments on to the command.
      wait-for-files       lines of paths: wait until all exist.
      pidfile              an exclusive lock (flock) on this file, held by the
                           program through descriptor 9: a second start exits 1
                           while the first runs; the file records the pid.
      hash-files           files made by this buildout (configs): a digest of
                           their content (and of the script), keyed with the
                           partition's salt, is appended to the file name,
                           so a change gives a new program name and slapgrid
                           restarts the service. The previous hashed wrapper
                           of this part is removed.
      hash-existing-files  the same for files that exist before buildout runs.
      sig-ign              a signal (``USR1``, ``HUP``, ``RTMIN+1``…) the
                           command starts with ignored, until it sets its own
                           handler (no death by a log rotation's signal
                           before that). A signal of this system (``RTMIN+n``
                           up to ``RTMAX``), and not ``KILL`` or ``STOP``
                           (never ignored) nor ``CHLD`` (a command started
                           with it ignored cannot wait for its children).
      redirect-stdout      a file the command's output is appended to (and
      redirect-stderr      its errors; the same path for both is allowed);
                           the signal of ``sig-ign`` (default ``USR1``) sent
                           to the wrapper reopens them (log rotation) and,
      redirect-signal      with this option, is passed on to the command as
                           this signal (taken as ``sig-ign`` is: the command
                           starts with it ignored). The wrapper then stays
                           the command's parent.
      private-tmpfs        lines ``SIZE PATH``: the command runs in a user
                           and mount namespace of its own with a tmpfs of
                           that size on each path; where the kernel refuses
                           user namespaces, the wrapper says so when it
                           starts and exits 1. SIZE is ASCII digits with an
                           optional ``k``, ``m`` or ``g`` (``100m``, ``1g``),
                           from 1 byte to 1 TiB (``1024g``), or a share of
                           the memory from ``1%`` to ``100%``: never 0,
                           which the kernel takes as no limit at all.
      reserve-cpu          boolean: ask slapos format's cpuset for a core of
                           its own (the pid is appended to
                           ``~/.slapos-cpu-exclusive``).

    Output option ``wrapper-path``: the final path, digest included. With
    ``hash-existing-files`` alone it is known when the part is read, so other
    parts may reference it; with ``hash-files`` it is set when the part runs.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        # Before a secret it quotes is taken out of the profile's text.
        raw_arguments = raw_value(options, "arguments")
        super().__init__(buildout, name, options)
        self.refuse(
            NOT_IMPLEMENTED, "slapos.cookbook's wrapper option is not implemented by slapkit"
        )
        opts = self.opts
        self.arguments = opts.command("command-line") + self._extra_arguments(raw_arguments)
        self.base_path = self.required_path("wrapper-path")
        if not is_program_name(os.path.basename(self.base_path)):
            raise self.error(
                "wrapper-path",
                f"{os.path.basename(self.base_path)!r} cannot be a program "
                "name (letters, digits and _.+@- only, not starting with . or -)",
            )
        claim(self.base_path)
        self.environment = opts.assignments("environment")
        self.parameters_extra = opts.boolean("parameters-extra", False)
        self.wait_for_files = opts.paths("wait-for-files")
        self.pidfile = self.local_path("pidfile")
        self.reserve_cpu = opts.boolean("reserve-cpu", False)
        self.ignored_signal = self._signal("sig-ign")
        self.passed_on_signal = self._signal("redirect-signal")
        self.stdout_path = self.local_path("redirect-stdout")
        self.stderr_path = self.local_path("redirect-stderr")
        if self.passed_on_signal and not (self.stdout_path or self.stderr_path):
            raise self.error(
                "redirect-signal",
                "needs redirect-stdout or redirect-stderr (it is sent when they are reopened)",
            )
        if (self.stdout_path or self.stderr_path) and self.ignored_signal is None:
            self.ignored_signal = int(signal.SIGUSR1)
        self.private_tmpfs = self._private_tmpfs()
        self.hash_files = self._local_paths("hash-files")
        self.hash_existing_files = self._local_paths("hash-existing-files")
        for path in self.hash_existing_files:
            if not os.path.isfile(path):
                raise self.error("hash-existing-files", _not_a_file(path))
        self.script = self._script()
        if self.hash_existing_files and not self.hash_files:
            options["wrapper-path"] = self._final_path()

    def _signal(self, option: str) -> int | None:
        text = self.opts.text(option)
        if text is None:
            return None
        try:
            return signal_number(text)
        except ValueError as exc:
            raise self.error(option, f"{text!r} {exc}") from None

    def _private_tmpfs(self) -> list[tuple[str, str]]:
        mounts = []
        for line in self.opts.lines("private-tmpfs"):
            words = line.split()
            size = _TMPFS_SIZE.match(words[0]) if len(words) == 2 else None
            if size is None:
                raise self.error(
                    "private-tmpfs",
                    f"{line!r} is not of the form SIZE PATH (SIZE: digits with k, m, g or %)",
                )
            number, unit = int(size[1]), size[2]
            if number == 0:
                raise self.error(
                    "private-tmpfs",
                    f"{line!r}: a size of 0 is no limit to the kernel"
                    " (SIZE: 1 to 1024g, or 1% to 100%)",
                )
            limit = 100 if unit == "%" else TMPFS_MAX // _TMPFS_UNITS[unit.lower()]
            if number > limit:
                raise self.error(
                    "private-tmpfs",
                    f"{line!r}: {words[0]!r} is more than 1024g (1 TiB) or 100% of the memory",
                )
            mounts.append((words[0], str(self.local_path("private-tmpfs", words[1]))))
        return mounts

    def _local_paths(self, option: str) -> list[str]:
        return [str(self.local_path(option, line)) for line in self.opts.lines(option)]

    def _extra_arguments(self, raw: str | None) -> list[str]:
        """``arguments``: one argument a line of the profile's text, substituted after."""
        if raw is None:  # set by a recipe, not written in the profile
            arguments = self.opts.lines("arguments")
        else:
            arguments = [
                substitute(self.options, "arguments", line.strip())
                for line in raw.split("\n")
                if line.strip()
            ]
            self.options.get("arguments")  # read: buildout warns of options no one reads
        if any("\x00" in argument for argument in arguments):
            raise self.error("arguments", "holds a NUL byte, which no program argument can")
        return arguments

    @property
    def hashed(self) -> bool:
        return bool(self.hash_files or self.hash_existing_files)

    def _final_path(self) -> str:
        if not self.hashed:
            return self.base_path
        for path in self.hash_files:
            if not os.path.isfile(path):
                raise self.error("hash-files", _not_a_file(path))
        try:
            salt = partition_salt(self.directory)
        except OSError as exc:
            raise self.error(
                "hash-files", f"cannot keep the partition's salt: {exc.strerror}"
            ) from None
        try:
            digest = files_digest(salt, self.script, self.hash_existing_files + self.hash_files)
        except OSError as exc:
            raise self.error(
                "hash-files", f"cannot read {exc.filename!r}: {exc.strerror}"
            ) from None
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
                f'  echo "${{0##*/}}: waiting for "{waited} >&2',
                f"  until {tests}; do sleep 0.2 2>/dev/null || sleep 1; done",
                "fi",
            ]
        if self.pidfile:
            # An exclusive lock on the pidfile, held by the program itself
            # through descriptor 9 (kept across exec): a second start fails
            # while the first runs, whatever pid the file holds.
            pidfile = shell_quote(self.pidfile)
            lines += [
                "command -v flock >/dev/null || "
                '{ echo "${0##*/}: the pidfile needs flock (util-linux)" >&2; exit 1; }',
                # Never written through a link, a hard link or a FIFO: a
                # planted one is removed, and a file of the wrapper's own made.
                f"if [ -L {pidfile} ] || {{ [ -e {pidfile} ] && [ ! -f {pidfile} ]; }} || "
                f'[ -n "$(find {pidfile} -prune -links +1 2>/dev/null)" ]; then',
                f"  rm -f {pidfile}",
                "fi",
                f"exec 9<>{pidfile} || exit 1",
                "if ! flock -n 9; then",
                f'  echo "${{0##*/}}: already running as pid $(cat /dev/fd/9) ("{pidfile}")" >&2',
                "  exit 1",
                "fi",
                "echo $$ > /dev/fd/9",
            ]
        if self.reserve_cpu:
            lines.append('echo $$ >> "$HOME/.slapos-cpu-exclusive"')
        if self.ignored_signal is not None:
            lines.append(f"trap '' {self.ignored_signal}  # ignored until the command handles it")
        arguments = self.arguments
        if self.private_tmpfs or self.stdout_path or self.stderr_path:
            spec = {
                "tmpfs": self.private_tmpfs,
                "stdout": self.stdout_path,
                "stderr": self.stderr_path,
                "signal": self.passed_on_signal,
                "ignored": self.ignored_signal,
            }
            helper = [sys.executable, "-I", "-c", HELPER, json.dumps(spec, sort_keys=True)]
            arguments = helper + arguments
        command = " ".join(shell_quote(argument) for argument in arguments)
        if self.parameters_extra:
            command += ' "$@"'
        lines.append(f"exec {command}")
        return "\n".join(lines) + "\n"

    def install(self) -> list[str]:
        path = self._final_path()
        self.options["wrapper-path"] = path
        # A wrapper that exports a secret is readable by its owner only.
        mode = 0o700 if holds_secret(self.script) else executable_mode()
        # A temporary of any digest of this wrapper: one of an older digest
        # is never written again, and slapgrid would start it.
        every_digest = re.escape(os.path.basename(self.base_path)) + f"(?:{DIGEST})?"
        self.write("wrapper-path", path, self.script, mode, temporaries=every_digest)
        # Exactly one wrapper per part, whether hash-files was just turned on
        # (the plain one goes) or off (every hashed one goes).
        listing = _listing(os.path.dirname(self.base_path))
        if self.hashed:
            listing.add(os.path.basename(path))
            self.remove(self.base_path)
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
        if has_digest(name):
            self.by_base.setdefault(without_digest(name), set()).add(name)

    def discard(self, name: str) -> None:
        self.by_base.get(without_digest(name), set()).discard(name)


def _listing(directory: str) -> _Listing:
    listings = current().wrapper_listings
    listing: _Listing | None = listings.get(directory)
    if listing is None:
        listing = listings[directory] = _Listing(directory)
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
        base = without_digest(path)
        if is_claimed(base):
            return  # the new part writes this wrapper and removes stale digests
        candidates = [base, *hashed_siblings(os.path.abspath(base))]
    remove_unclaimed(name, candidates)
