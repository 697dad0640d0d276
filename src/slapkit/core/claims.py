"""Which files the parts of the current buildout run will write.

zc.buildout uninstalls a part whose options changed (removing the paths its
install returned) before it installs it again: a failure in between (a full
disk, a broken template) would leave the service with no configuration at
all. So slapkit recipes return no paths; each constructor claims the files
its part writes (buildout constructs every part before it uninstalls any),
and an uninstall hook removes only a file that no part of the new
configuration claims. A file a part keeps writing is then replaced in one
atomic rename, never deleted first.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from slapkit.core.files import remove_file
from slapkit.core.run_state import current


def claim(path: str) -> None:
    current().claimed.add(os.path.abspath(path))


def is_claimed(path: str) -> bool:
    return os.path.abspath(path) in current().claimed


def remove_unclaimed(part: str, paths: Iterable[str]) -> None:
    """Remove files of a part being uninstalled that no current part writes."""
    log = logging.getLogger(part)
    for path in paths:
        if path and not is_claimed(path) and remove_file(os.path.abspath(path)):
            log.info("removed %s", os.path.abspath(path))
