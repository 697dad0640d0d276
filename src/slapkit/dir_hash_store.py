"""zc.buildout's signature of a pip-installed recipe, kept between runs (part
of the extension).

zc.buildout signs a develop distribution -- and a distribution pip installed
into site-packages counts as one -- with an md5 of every file under its
location: all of site-packages, read on every run (60-260 ms in a
virtualenv with a warm cache, seconds with a cold one). Here the digest is
kept in ``.slapkit/dir-hashes.json`` beside a fingerprint of the same files
(name, size, mtime, ctime, inode: a walk that reads no content) and
zc.buildout computes it again only when the fingerprint changed. The value
is zc.buildout's own, so turning the extension on or off reinstalls
nothing. Any write to a file changes its ctime, which no tool can set back.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from slapkit.core.partition_state import STATE_DIR, cache_directory, keep_json, read_kept_json

STORE = "dir-hashes.json"


class DirHashRun:
    """One buildout run's store: the buildout directory whose
    ``.slapkit/dir-hashes.json`` it reads, and the digests it computed, kept
    only when that run ends well (``flush``). Held by the run's Buildout
    (``of``), as zc.recipe.egg keeps its caches: a sub-buildout has its own,
    and never flushes its parent's."""

    def __init__(self, directory: str):
        self.directory = directory
        self.path = os.path.join(directory, STATE_DIR, STORE)
        self.pending: dict[str, list[str]] = {}

    def flush(self) -> None:
        """Keep the digests this run computed."""
        entries, self.pending = self.pending, {}
        if entries and cache_directory(self.directory) is not None:
            keep_json(
                self.directory, self.path, {**read_kept_json(self.directory, self.path), **entries}
            )


_RUN_ATTRIBUTE = "slapkit_dir_hashes"
# The run whose parts are being signed now (``signing``): zc.buildout's
# ``_dir_hash`` is a module function, called with a directory alone.
_signing: DirHashRun | None = None


def of(buildout: Any) -> DirHashRun:
    """The store of ``buildout``'s run, made on first use."""
    run: DirHashRun | None = getattr(buildout, _RUN_ATTRIBUTE, None)
    if run is None:
        run = DirHashRun(buildout["buildout"]["directory"])
        setattr(buildout, _RUN_ATTRIBUTE, run)
    return run


@contextmanager
def signing(run: DirHashRun) -> Iterator[None]:
    """While ``run``'s parts are signed, digests are kept in its store."""
    global _signing
    saved, _signing = _signing, run
    try:
        yield
    finally:
        _signing = saved


def fingerprint(directory: str) -> str:
    """What zc.buildout's digest of ``directory`` reads, without reading it:
    the same directories and files, by name, size, times and inode."""
    import zc.buildout.buildout

    ignored = zc.buildout.buildout.ignore_directories
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(name for name in dirnames if name not in ignored)
        digest.update(f"D{dirpath}\0{chr(0).join(dirnames)}\0".encode(errors="surrogateescape"))
        for name in sorted(filenames):
            if name.endswith(("pyc", "pyo")):
                continue
            try:
                info = os.stat(os.path.join(dirpath, name))
            except OSError:
                continue  # zc.buildout leaves out what does not exist (a dangling link)
            stamp = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
            digest.update(f"F{name}\0{stamp}\0".encode(errors="surrogateescape"))
    return digest.hexdigest()


def keeping(original: Any) -> Any:
    """zc.buildout's ``_dir_hash``, its results kept between runs."""
    import zc.buildout.buildout

    def dir_hash(directory: str) -> str:
        known: dict[str, str] = zc.buildout.buildout._dir_hashes
        run = _signing
        if directory in known or run is None:
            return str(original(directory))
        try:
            before = fingerprint(directory)
        except OSError:
            return str(original(directory))
        entry = read_kept_json(run.directory, run.path).get(directory)
        if isinstance(entry, list) and len(entry) == 2 and entry[0] == before:
            if isinstance(entry[1], str):
                known[directory] = entry[1]
                return entry[1]
        digest = str(original(directory))
        # Kept only if no file changed while zc.buildout read them.
        if fingerprint(directory) == before:
            run.pending[directory] = [before, digest]
        return digest

    dir_hash.__wrapped__ = original  # type: ignore[attr-defined]
    return dir_hash
