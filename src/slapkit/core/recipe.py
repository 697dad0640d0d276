"""The base class of every slapkit recipe."""

from __future__ import annotations

import logging
import os
from collections.abc import MutableMapping
from typing import Any

from slapkit.core.buildout_internals import ensure_single_substitution, mark_slapkit_run
from slapkit.core.concealment import (
    conceal_secret_options,
    concealed_names,
    ensure_unused_concealed_reported,
)
from slapkit.core.directories import first_existing_non_directory, make_directories, planted_link
from slapkit.core.errors import option_error
from slapkit.core.files import remove_file, remove_stale_temporaries, write_if_changed
from slapkit.core.options import PartOptions
from slapkit.core.run_state import begin_run
from slapkit.core.secrets import holds_secret
from slapkit.core.user_values import climbing_user_value_in

# Before any slapkit recipe reads an option: a parameter's value is data.
ensure_single_substitution()
ensure_unused_concealed_reported()


def private_mode(content: bytes | str, mode: int | None) -> int | None:
    """``mode`` without the group's and others' bits when ``content`` holds a
    secret slapkit knows (a generated password, a ``writeOnly`` value),
    whatever the part asked for: such a file is never readable by others."""
    if mode is not None and not mode & 0o077:
        return mode
    text = content if isinstance(content, str) else content.decode("utf-8", "surrogateescape")
    if not holds_secret(text):
        return mode
    return 0o600 if mode is None else mode & 0o700


class BaseRecipe:
    """Holds the part's name and options, and writes files the slapkit way.

    Subclasses validate everything in ``__init__`` (so a bad option stops the
    run before any part touches the disk) and do their work in ``install``;
    ``update`` runs the same promise check, so a file changed or removed by
    hand is put right on the next run.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        self.buildout = buildout
        mark_slapkit_run(buildout)
        begin_run(buildout)
        self.name = name
        self.options = options
        # Before anything reads them: an option quoting a secret made by an
        # earlier part must not be saved by buildout.
        conceal_secret_options(options)
        self.opts = PartOptions(name, options)
        self.log = logging.getLogger(name)

    def option_names(self) -> list[str]:
        """Every option of the part, concealed ones included."""
        names = list(self.options.keys())
        return names + [n for n in concealed_names(self.options) if n not in names]

    def refuse(self, names: tuple[str, ...], why: str) -> None:
        """Stop on an option the cookbook's namesake knows and this recipe
        does not implement: never drop it silently."""
        for name in names:
            if self.options.get(name):
                raise self.error(name, why)

    def install(self) -> list[str]:  # pragma: no cover - every recipe overrides it
        raise NotImplementedError

    def update(self) -> list[str] | None:
        return self.install()

    def error(self, option: str, message: str) -> Exception:
        return option_error(self.name, option, message)

    @property
    def directory(self) -> str:
        """The buildout directory, which relative paths are taken from."""
        return str(self.buildout["buildout"]["directory"])

    def local_path(self, option: str, value: str | None = None) -> str | None:
        """The option's path (or ``value``), relative ones taken from the
        buildout directory; None when empty. Control characters are refused."""
        path = self.opts.path(option) if value is None else self.opts.checked_path(option, value)
        return None if path is None else os.path.join(self.directory, path)

    def required_path(self, option: str) -> str:
        self.opts.required(option)
        path = self.local_path(option)
        assert path is not None
        return path

    def report(self, verb: str, path: str) -> None:
        """The one line said for each file or directory created, changed or removed."""
        self.log.info("%s %s", verb, path)

    def output_path(self, option: str, path: str) -> str:
        """``path`` normalised (no ``..`` left), refused when a user's
        parameter in it has a ``..``: it would lead out of where the profile
        writes."""
        climbing = climbing_user_value_in(path)
        if climbing is not None:
            raise self.error(
                option,
                f"{path!r} holds a parameter's value, {climbing!r}, that climbs out of the "
                "directory the profile names ('..'): refused",
            )
        return os.path.normpath(path)

    def make_parent_directory(self, option: str, path: str) -> None:
        """Make the missing directories above ``path`` (an ``output_path``),
        0777 less the umask, as slapos.recipe.template does for its output;
        say so. Never through a symbolic link in the buildout directory that
        no part of this run makes (nor is ``path`` written through one),
        never over a file. They are kept on uninstall (other files may be in
        them by then)."""
        parent = os.path.dirname(path)
        link = planted_link(parent, self.directory)
        if link is not None:
            raise self.error(
                option,
                f"cannot write {path!r}: {link!r} is a symbolic link that no part of this"
                " buildout makes; nothing is created or written through it",
            )
        if os.path.isdir(parent):
            return
        blocker = first_existing_non_directory(parent)
        if blocker is not None:
            raise self.error(option, f"cannot write {path!r}: {blocker!r} is not a directory")
        try:
            make_directories(parent, None, lambda made: self.report("created directory", made))
        except OSError as exc:
            failed = exc.filename or parent
            raise self.error(option, f"cannot create {failed!r}: {exc.strerror}") from None

    def write(
        self,
        option: str,
        path: str,
        content: bytes | str,
        mode: int | None = None,
        temporaries: str | None = None,
    ) -> bool:
        """Write ``path`` if its content or mode differ; say so; True if changed.

        Temporaries a killed run left of ``path`` (or of the names the
        regular expression ``temporaries`` matches) are removed first.
        """
        existed = os.path.lexists(path)
        mode = private_mode(content, mode)
        try:
            self.remove_stale_temporaries(path, temporaries)
            changed = write_if_changed(path, content, mode)
        except OSError as exc:
            raise self.error(option, f"cannot write {path!r}: {exc.strerror}") from None
        if changed:
            self.report("updated" if existed else "created", path)
        return changed

    def remove_stale_temporaries(self, path: str, name_pattern: str | None = None) -> None:
        """Remove the temporaries a killed run left of ``path``; say so.
        Raises OSError."""
        for stale in remove_stale_temporaries(path, name_pattern):
            self.report("removed stale temporary", stale)

    def remove(self, path: str) -> None:
        if remove_file(path):
            self.report("removed", path)
