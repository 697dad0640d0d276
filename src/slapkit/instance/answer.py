"""What the master answers about one partition, from slapos.core or from
the file ``slapkit deploy`` writes in its place.

slapgrid's master answers ``getInstanceParameterDict()`` (the user's
parameters beside the master's own keys: ``slap_software_type``,
``ip_list``, ``slave_instance_list``, ``instance_title``…), the state and
the instance's guid. ``slapkit deploy`` plays the master: it writes the
same answer, as JSON, to ``.slapkit/instance.json`` and names that file in
``[slap-connection] instance-file``::

    {"parameter-dict": {...}, "state": "started", "instance-guid": "..."}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from slapkit.instance.master import MasterError, partition_of
from slapkit.instance.sources import SourceError, check_depth

DEFAULT_SOFTWARE_TYPE = "default"
# The software type slapgrid used to call "default".
OLD_DEFAULT_SOFTWARE_TYPE = "RootSoftwareInstance"


@dataclass
class InstanceAnswer:
    parameter_dict: dict[str, Any]
    state: str = "started"
    instance_guid: str = ""
    # slapos.core's ComputerPartition when the answer came from a master
    # (to report errors to, or to publish to); None for a local answer.
    partition: Any = field(default=None, repr=False)


def answer_from_file(path: str) -> InstanceAnswer:
    """The answer ``slapkit deploy`` wrote for the partition."""
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except OSError as exc:
        raise SourceError(f"cannot read {path!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SourceError(f"{path!r} is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise SourceError(f"{path!r} is not JSON") from None
    check_depth(data)
    if not isinstance(data, dict) or not isinstance(data.get("parameter-dict"), dict):
        raise SourceError(f"{path!r} is not an instance answer (no 'parameter-dict' object)")
    return InstanceAnswer(
        dict(data["parameter-dict"]),
        str(data.get("state") or "started"),
        str(data.get("instance-guid") or ""),
    )


def answer_from_master(connection: Mapping[str, str]) -> InstanceAnswer:
    """The answer of the master ``connection`` names, through slapos.core."""
    partition = partition_of(connection)
    try:
        parameter_dict = dict(partition.getInstanceParameterDict())
        state = partition.getState()
        guid = partition.getInstanceGuid()
    except Exception as exc:  # slapos.core raises many kinds; all mean "no answer"
        raise MasterError(
            f"cannot read the partition from the master at "
            f"{connection.get('server-url')!r}: {type(exc).__name__}: {exc}"
        ) from None
    return InstanceAnswer(parameter_dict, str(state or ""), str(guid or ""), partition)
