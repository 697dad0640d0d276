"""How the last ``slapkit deploy`` of a partition ended, for ``slapkit
status``: the request it shows is the one asked for, which a deploy that
failed or was interrupted did not apply.

Kept in ``.slapkit/last-deploy.json`` (authenticated with the partition's
salt: one edited or planted is not used): ``running`` from the moment the
profile was read, then ``ok`` when its buildout succeeded (the request is
applied: a promise still failing then is status's own to tell) or ``not
ok``. One still ``running`` while no deploy holds the partition's lock was
interrupted.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from pathlib import Path

from slapkit.core.files import open_regular_file, read_regular_file
from slapkit.core.partition_state import KEPT_MAX_BYTES, STATE_DIR, keep_json, read_kept_json
from slapkit.runner.request import REQUEST_FILE

LAST_DEPLOY_FILE = "last-deploy.json"


def _path(partition: Path) -> str:
    return str(partition / STATE_DIR / LAST_DEPLOY_FILE)


def _request_digest(partition: Path) -> str | None:
    """The digest of the kept request: a record of how a deploy ended holds
    the one it was for, so that an old record put back says nothing of
    today's request."""
    try:
        data = read_regular_file(str(partition / STATE_DIR / REQUEST_FILE), KEPT_MAX_BYTES)
    except OSError:
        return None
    return hashlib.sha256(data).hexdigest() if data is not None else None


def _keep(partition: Path, state: str) -> None:
    record = {"state": state, "at": time.time(), "request": _request_digest(partition)}
    keep_json(str(partition), _path(partition), record)


def began(partition: Path) -> None:
    _keep(partition, "running")


def ended(partition: Path, applied: bool) -> None:
    """The deploy ended; ``applied``: its buildout succeeded."""
    _keep(partition, "ok" if applied else "not ok")


def _deploy_running(partition: Path) -> bool:
    fd = open_regular_file(str(partition / STATE_DIR / "deploy.lock"))
    if fd is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def problem(partition: Path) -> str | None:
    """What ``status`` must say about the last deploy, or None when it ended
    well (or none is known)."""
    kept = read_kept_json(str(partition), _path(partition))
    state, at = kept.get("state"), kept.get("at")
    request = _request_digest(partition)
    if request is None:
        return None  # nothing was requested: nothing to say
    if not isinstance(at, (int, float)) or kept.get("request") != request:
        return (
            "no record of how the deploy of the request shown ended (a deploy by an older "
            "slapkit, or a record put back): slapkit deploy tells"
        )
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))
    if state == "running":
        if _deploy_running(partition):
            return f"a deploy is running now (since {when}): what runs may change"
        return (
            f"the last deploy (started {when}) was interrupted: the request shown is not "
            "applied yet; slapkit deploy finishes it"
        )
    if state == "not ok":
        return (
            f"the last deploy ({when}) failed in buildout: the request shown is not applied "
            "(slapkit logs buildout)"
        )
    return None
