"""Compiled Jinja2 templates kept between runs, in the partition.

Compiling is most of what an unchanged template part costs on a rerun.
Jinja2's own bytecode cache keeps each compiled template in
``.slapkit/jinja2/`` (0700; entries 0600, written to a temporary file
then renamed, so concurrent runs never see half an entry), keyed by the
template's name and checked against its source's hash and the Python
and Jinja2 versions. An entry that is stale or corrupt is compiled anew;
a cache that cannot be used (a symlink or a file in its place, another
owner, no space) is simply not used: it never fails a run.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from slapkit.core.partition_state import state_directory

CACHE_DIR = "jinja2"
_caches: dict[str, Any] = {}


def bytecode_cache(buildout_directory: str) -> Any:
    """The partition's cache (Jinja2's FileSystemBytecodeCache), or None."""
    if buildout_directory in _caches:
        return _caches[buildout_directory]
    cache = None
    try:
        path = os.path.join(state_directory(buildout_directory), CACHE_DIR)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        info = os.lstat(path)
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid():
            import jinja2

            cache = jinja2.FileSystemBytecodeCache(path)
    except OSError:
        cache = None
    _caches[buildout_directory] = cache
    return cache


def compiled(env: Any, cache: Any, name: str, filename: str, source: str) -> Any:
    """The code of ``source``: from the cache when it holds it, else
    compiled (and kept there)."""
    bucket = None
    if cache is not None:
        try:
            bucket = cache.get_bucket(env, name, filename, source)
        except Exception:  # a corrupt entry: pickle and marshal raise many kinds
            bucket = None
        if bucket is not None and bucket.code is not None:
            return bucket.code
    code = env.compile(source, filename=filename)
    if bucket is not None:
        bucket.code = code
        try:
            cache.set_bucket(bucket)
        except OSError:
            pass  # a cache not kept costs a compile next time, nothing else
    return code
