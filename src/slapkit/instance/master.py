"""The SlapOS master, through slapos.core's client (imported only here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REQUIRED = ("server-url", "computer-id", "partition-id")


class MasterError(Exception):
    pass


def partition_of(connection: Mapping[str, str]) -> Any:
    """slapos.core's ComputerPartition for the ``[slap-connection]`` given."""
    missing = [key for key in REQUIRED if not (connection.get(key) or "").strip()]
    if missing:
        raise MasterError(f"the connection section lacks {', '.join(missing)}")
    url = connection["server-url"].strip()
    try:
        from slapos import slap
    except ImportError:
        raise MasterError(
            f"slapos.core is needed to speak to the master at {url!r} (install slapkit[master])"
        ) from None
    client = slap.slap()
    try:
        client.initializeConnection(
            url,
            (connection.get("key-file") or "").strip() or None,
            (connection.get("cert-file") or "").strip() or None,
        )
        return client.registerComputerPartition(
            connection["computer-id"].strip(), connection["partition-id"].strip()
        )
    except Exception as exc:
        raise MasterError(
            f"cannot reach the master at {url!r}: {type(exc).__name__}: {exc}"
        ) from None
