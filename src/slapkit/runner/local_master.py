"""The master's part, played by ``slapkit deploy`` for its one partition.

The answer is written to ``.slapkit/instance.json`` in the shape
``slapkit.instance.answer`` reads: what slapos.core's
``getInstanceParameterDict()`` returns (the user's parameters beside the
master's keys), the state and the instance's guid.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slapkit.instance.answer import DEFAULT_SOFTWARE_TYPE
from slapkit.instance.sources import SourceError, check_depth

SERIALISED_KEY = "_"


class MasterInputError(Exception):
    """A runner option that cannot be the master's answer."""


def host_has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


def checked_address(option: str, text: str, version: int) -> str:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise MasterInputError(f"{option} {text!r}: not an IP address") from None
    if address.version != version:
        raise MasterInputError(f"{option} {text!r}: not an IPv{version} address")
    return str(address)


@dataclass
class LocalMaster:
    """What the master would tell the partition."""

    software_type: str = DEFAULT_SOFTWARE_TYPE
    ipv4: str = "127.0.0.1"
    # None: ::1 when the host has it.
    ipv6: str | None = None
    title: str = "slapkit-local"
    shared: list[dict[str, Any]] = field(default_factory=list)
    # The directory the partition's software_release links to (None: the runner's own).
    software_release: Path | None = None
    # What each instance the profile requests publishes, by name (--requested).
    requested: dict[str, Any] = field(default_factory=dict)

    def answer(
        self, parameters: dict[str, Any], computer_id: str, partition_id: str, software_url: str
    ) -> dict[str, Any]:
        ipv6 = self.ipv6 if self.ipv6 is not None else ("::1" if host_has_ipv6_loopback() else "")
        addresses = [["lo", address] for address in (self.ipv4, ipv6) if address]
        parameter_dict = dict(as_sent(parameters))
        parameter_dict.update(
            slap_software_type=self.software_type,
            slap_computer_id=computer_id,
            slap_computer_partition_id=partition_id,
            slap_software_release_url=software_url,
            ip_list=addresses,
            full_ip_list=[],
            instance_title=self.title,
            root_instance_title=self.title,
            root_instance_short_title=self.title,
            slave_instance_list=[
                {
                    "slave_reference": item["reference"],
                    "slave_title": item.get("title") or item["reference"],
                    **as_sent(item.get("parameters") or {}),
                }
                for item in self.shared
            ],
        )
        return {
            "parameter-dict": parameter_dict,
            "state": "started",
            "instance-guid": f"{computer_id}-{partition_id}",
        }


def as_sent(parameters: dict[str, Any]) -> dict[str, Any]:
    """Parameters as a master passes them: all strings as they are, else
    SlapOS's JSON-in-XML form (one ``_`` holding them all)."""
    if all(isinstance(value, str) for value in parameters.values()):
        return dict(parameters)
    return {SERIALISED_KEY: json.dumps(parameters, sort_keys=True)}


# What the runner reads of a file given on its command line, at most.
INPUT_MAX_BYTES = 1 << 20


def read_input_file(option: str, path: str) -> str:
    """The text of a file given as ``option``: a regular file (never a FIFO
    or a device, which would hang the runner or fill its memory) of at most
    1 MB, UTF-8. MasterInputError saying why not."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise MasterInputError(f"{option}: cannot read {path!r}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as stream:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise MasterInputError(f"{option}: {path!r} is not a regular file")
        data = stream.read(INPUT_MAX_BYTES + 1)
    if len(data) > INPUT_MAX_BYTES:
        raise MasterInputError(f"{option}: {path!r} is bigger than 1 MB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise MasterInputError(f"{option}: {path!r} is not UTF-8 text") from None


def read_json_input(option: str, path: str) -> Any:
    """The JSON document of a file given as ``option`` (see read_input_file),
    nested no deeper than the master's answers may be."""
    text = read_input_file(option, path)
    try:
        data = json.loads(text)
        check_depth(data)
    except (ValueError, RecursionError, SourceError) as exc:
        raise MasterInputError(f"{option}: {path!r} is not usable JSON: {exc}") from None
    return data


def read_shared(path: str) -> list[dict[str, Any]]:
    """``--shared FILE``: a JSON list of ``{"reference", "parameters"[, "title"]}``."""
    data = read_json_input("--shared", path)
    if not isinstance(data, list):
        raise MasterInputError(f"--shared: {path!r} must hold a JSON list")
    shared, seen = [], set()
    for index, item in enumerate(data):
        where = f"--shared: item {index}"
        if not isinstance(item, dict) or not isinstance(item.get("reference"), str):
            raise MasterInputError(f"{where}: expected an object with a string 'reference'")
        reference = item["reference"]
        if not reference or reference in seen:
            raise MasterInputError(f"{where}: reference {reference!r} is empty or given twice")
        seen.add(reference)
        parameters = item.get("parameters", {})
        if not isinstance(parameters, dict):
            raise MasterInputError(f"{where}: 'parameters' must be an object")
        title = item.get("title", reference)
        if not isinstance(title, str):
            raise MasterInputError(f"{where}: 'title' must be a string")
        shared.append({"reference": reference, "parameters": parameters, "title": title})
    return shared


def read_requested(path: str) -> dict[str, dict[str, Any]]:
    """``--requested FILE``: a JSON object, for each instance the profile
    requests (by its ``name``), the object of what it publishes."""
    data = read_json_input("--requested", path)
    if not isinstance(data, dict) or not all(
        isinstance(name, str) and isinstance(values, dict) for name, values in data.items()
    ):
        raise MasterInputError(
            f"--requested: {path!r} must hold a JSON object of objects "
            '({"NAME": {"url": "..."}}: what each requested instance publishes)'
        )
    return data
