"""Compiled Jinja2 templates kept between runs, in the partition.

Compiling is most of what an unchanged template part costs on a rerun. The
code of each template is kept in ``.slapkit/jinja2/`` (0700; entries 0600,
written atomically), named by a hash of everything the code depends on: the
template's name, file name and source, the Python bytecode's and Jinja2's
versions.

An entry is code, so it is used only when it is provably slapkit's own: it
is kept with an HMAC keyed by the partition's salt (``.slapkit/salt``,
0600) and bound to its name (``partition_state.keep``); anything else found
there -- planted, edited, truncated, a symlink, a FIFO -- is never
unmarshalled: the template is compiled anew. (Jinja2's own bytecode cache is
not used: it unpickles what it finds.) A cache that cannot be used (a
symlink or a file in its place, another owner, no space) is simply not
used: it never fails a run.

Reading happens when a part is read and creates nothing; writing only once
its part has written its output (``store``): a run that fails changes
nothing on disk.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
from typing import Any

from slapkit.core.partition_state import STATE_DIR, cache_directory, keep, read_kept

CACHE_DIR = "jinja2"


def _entry_name(name: str, filename: str, source: str) -> str:
    import jinja2

    digest = hashlib.sha256()
    for part in (name, filename, source, jinja2.__version__):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(importlib.util.MAGIC_NUMBER)
    return digest.hexdigest() + ".code"


def compiled(
    env: Any, buildout_directory: str, name: str, filename: str, source: str
) -> tuple[Any, Any]:
    """The code of ``source`` and, when it was compiled here, the entry to
    ``store`` once the part has done its work (else None)."""
    path = os.path.join(
        buildout_directory, STATE_DIR, CACHE_DIR, _entry_name(name, filename, source)
    )
    data = read_kept(buildout_directory, path)
    if data is not None:
        try:
            return marshal.loads(data), None
        except (EOFError, ValueError, TypeError):
            pass  # cannot happen to an authenticated entry of this Python; compiled anew
    code = env.compile(source, filename=filename)
    return code, (path, code)


def store(buildout_directory: str, pending: tuple[str, Any] | None) -> None:
    """Keep a compiled template for the next runs (a cache that cannot be
    used is left alone)."""
    if pending is None:
        return
    path, code = pending
    if cache_directory(buildout_directory, CACHE_DIR) is None:
        return
    keep(buildout_directory, path, marshal.dumps(code))
