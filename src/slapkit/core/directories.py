"""Directories a part makes: never through a link it did not make, never
over something that is not a directory."""

from __future__ import annotations

import os
from collections.abc import Callable

from slapkit.core.claims import is_claimed


def planted_link(path: str, buildout_directory: str) -> str | None:
    """The first symbolic link from the buildout directory down to ``path``
    (the path itself included) that the current run does not claim. For a
    path outside it, only the path itself: the directories above the
    partition are the operator's."""
    roots = (os.path.normpath(buildout_directory), os.path.realpath(buildout_directory))
    candidates = [path]
    for root in roots:
        if path.startswith(root + os.sep):
            parts = os.path.relpath(path, root).split(os.sep)
            candidates = [os.path.join(root, *parts[: n + 1]) for n in range(len(parts))]
            break
    for candidate in candidates:
        if os.path.islink(candidate) and not is_claimed(candidate):
            return candidate
    return None


def first_existing_non_directory(path: str) -> str | None:
    """The path itself or its nearest existing ancestor, if that is not a directory."""
    current = path
    while not os.path.lexists(current):
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
    return None if os.path.isdir(current) else current


def make_directories(
    path: str, mode: int | None, created: Callable[[str], None] = lambda _: None
) -> None:
    """Make ``path`` and its missing parents, each with exactly ``mode`` (or
    0777 less the umask when None), calling ``created`` for each one made.
    Raises OSError; FileExistsError when something not a directory is in
    the way."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent != path and not os.path.isdir(parent):
        make_directories(parent, mode, created)
    try:
        os.mkdir(path) if mode is None else os.mkdir(path, mode)
        if mode is not None:
            # mkdir's mode is reduced by the umask; "exactly that mode" needs chmod.
            os.chmod(path, mode)
    except FileExistsError:
        if not os.path.isdir(path):
            raise
        return
    created(path)
