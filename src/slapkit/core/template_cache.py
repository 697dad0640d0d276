"""Compiled Jinja2 templates kept between runs, in the partition.

Compiling is most of what an unchanged template part costs on a rerun.
Jinja2's own bytecode cache keeps each compiled template in
``.slapkit/jinja2/`` (0700; entries 0600, written to a temporary file
then renamed, so concurrent runs never see half an entry), keyed by the
template's name and checked against its source's hash and the Python
and Jinja2 versions. An entry that is stale or corrupt is compiled anew;
a cache that cannot be used (a symlink or a file in its place, another
owner, no space) is simply not used: it never fails a run.

Reading happens when a part is read; writing only once its part has
written its output (``store``): a run that fails changes nothing on disk.
"""

from __future__ import annotations

import os
from typing import Any

from slapkit.core.partition_state import STATE_DIR, cache_directory, owned_directory

CACHE_DIR = "jinja2"


def _cache(path: str) -> Any:
    import jinja2

    return jinja2.FileSystemBytecodeCache(path)


def compiled(
    env: Any, buildout_directory: str, name: str, filename: str, source: str
) -> tuple[Any, Any]:
    """The code of ``source`` and, when it was compiled here, the entry to
    ``store`` once the part has done its work (else None)."""
    path = os.path.join(buildout_directory, STATE_DIR, CACHE_DIR)
    bucket = None
    if owned_directory(path):
        try:
            bucket = _cache(path).get_bucket(env, name, filename, source)
        except Exception:  # a corrupt entry: pickle and marshal raise many kinds
            bucket = None
        if bucket is not None and bucket.code is not None:
            return bucket.code, None
    code = env.compile(source, filename=filename)
    if bucket is None:
        try:
            # An empty entry for this template, to fill (nothing is read or written).
            bucket = _cache(path).get_bucket(env, name, filename, source)
        except Exception:
            return code, None
    bucket.code = code
    return code, (path, bucket)


def store(buildout_directory: str, pending: tuple[str, Any] | None) -> None:
    """Keep a compiled template for the next runs (a cache that cannot be
    used is left alone)."""
    if pending is None:
        return
    path, bucket = pending
    if cache_directory(buildout_directory, CACHE_DIR) is None:
        return
    try:
        _cache(path).set_bucket(bucket)
    except OSError:
        pass  # a cache not kept costs a compile next time, nothing else
