"""Who holds a port that a kept port promise checked.

A port promise only asks whether something listens: when the partition's
own service failed because another process already had its port, the
promise is kept by that other process, and ``ok`` would be a lie. For each
kept promise that ``slapkit:promise`` (or ``check_port_listening``) wrote
for an address of this machine (a literal address or ``localhost``: a name
is not looked up, another machine's address is a dependency, not checked),
the runner looks up the process listening there (``/proc/net/tcp``,
``tcp6``, and the descriptors of this user's processes): one that is not
the partition's own (its ``SLAPKIT_PARTITION`` mark, or a descendant of the
partition's supervisord) makes the promise failing, with its pid and
command. A listener this user cannot see (another user's) is said as such.
"""

from __future__ import annotations

import ast
import ipaddress
import os
import re
import socket
from pathlib import Path
from typing import Any

from slapkit.core.files import read_regular_file
from slapkit.runner.promises import PromiseResult
from slapkit.runner.supervisor import PARTITION_ID, PARTITION_VARIABLE, Supervisor

# The line slapkit's port check holds (recipes/promise.py): host and port.
_PORT_LINE = re.compile(rb"^host, port = (.+), (\d{1,5})$", re.MULTILINE)
_WRITTEN_BY = b"# Written by slapkit:"
_LISTEN = "0A"


def checked_address(promise: Path) -> tuple[str, int] | None:
    """The host and port a slapkit port promise checks, or None (not one,
    or planted as a link or FIFO: never followed, never opened for reading)."""
    try:
        data = read_regular_file(str(promise))
    except OSError:
        return None
    if data is None or _WRITTEN_BY not in data[:400]:
        return None
    found = _PORT_LINE.search(data)
    if not found:
        return None
    try:
        host = ast.literal_eval(found.group(1).decode("utf-8"))
    except (ValueError, SyntaxError, UnicodeDecodeError, RecursionError, MemoryError):
        return None
    return (host, int(found.group(2))) if isinstance(host, str) else None


def local_addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses ``host`` names on this machine; none for a name (looking
    it up may ask the network) or for another machine's address."""
    host = host.strip("[]")
    if host in ("localhost", "0.0.0.0", "::", ""):
        # A connection to the unspecified address reaches the loopback.
        candidates = ["127.0.0.1", "::1"]
    else:
        try:
            mapped = ipaddress.ip_address(host)
        except ValueError:
            mapped = None
        ipv4 = getattr(mapped, "ipv4_mapped", None)
        candidates = [host] + ([str(ipv4)] if ipv4 is not None else [])
    found = []
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.bind((str(address), 0))  # only a local address binds
        except OSError:
            continue
        found.append(address)
    return found


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address of /proc/net/tcp (hex, each 32-bit word little-endian)."""
    raw = bytes.fromhex(text)
    words = b"".join(raw[n : n + 4][::-1] for n in range(0, len(raw), 4))
    return ipaddress.ip_address(words)


def listening_inodes(addresses: list[Any], port: int) -> set[int]:
    """The sockets listening on ``port`` that accept connections to one of
    ``addresses`` (bound to it, or to every address)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii", errors="replace") as stream:
                next(stream, None)
                for line in stream:
                    fields = line.split()
                    if len(fields) < 10 or fields[3] != _LISTEN:
                        continue
                    text, port_text = fields[1].rsplit(":", 1)
                    if int(port_text, 16) != port:
                        continue
                    bound = _address(text)
                    mapped = getattr(bound, "ipv4_mapped", None)
                    if bound.is_unspecified or bound in addresses or mapped in addresses:
                        inodes.add(int(fields[9]))
        except (OSError, ValueError):
            continue
    return inodes


def _owners(inodes: set[int]) -> list[int]:
    wanted = {f"socket:[{inode}]" for inode in inodes}
    owners = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{name}/fd"):
                if os.readlink(f"/proc/{name}/fd/{fd}") in wanted:
                    owners.append(int(name))
                    break
        except OSError:
            continue  # gone, or another user's
    return owners


def _is_partitions(pid: int, partition: Path) -> bool:
    """Whether ``pid`` or one of its ancestors carries the partition's mark,
    or is the partition's supervisord (a program may run its server with an
    environment of its own, ``env -i``)."""
    marker = b"\0" + f"{PARTITION_VARIABLE}={partition}".encode() + b"\0"
    supervisor = Supervisor(partition, PARTITION_ID)
    for _ in range(64):
        if supervisor.is_own_supervisord(pid):
            return True
        try:
            with open(f"/proc/{pid}/environ", "rb") as stream:
                if marker in b"\0" + stream.read() + b"\0":
                    return True
            with open(f"/proc/{pid}/stat", "rb") as stream:
                # "pid (command) state ppid ...": the command may hold blanks
                pid = int(stream.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
        if pid <= 1:
            return False
    return False


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as stream:
            text = stream.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"
    return text[:120]


def foreign_holder(host: str, port: int, partition: Path) -> str | None:
    """Why the process listening on ``host``:``port`` is not the partition's,
    or None when it is, when nothing listens (the promise says that itself),
    or when the host is not this machine's (a dependency elsewhere)."""
    addresses = local_addresses(host)
    if not addresses:
        return None
    inodes = listening_inodes(addresses, port)
    if not inodes:
        return None
    owners = _owners(inodes)
    if not owners:
        return f"port {port} is held by a process this user cannot see (another user's)"
    if any(_is_partitions(pid, partition) for pid in owners):
        return None
    pid = owners[0]
    return (
        f"port {port} is held by another process, not this partition's: pid {pid}: {_command(pid)}"
    )


def checked_owners(
    results: list[PromiseResult], paths: dict[str, Path], partition: Path
) -> list[PromiseResult]:
    """``results`` with each kept port promise whose port another process
    holds turned failing."""
    checked = []
    for result in results:
        where = (
            checked_address(paths[result.name]) if result.kept and result.name in paths else None
        )
        why = foreign_holder(*where, partition) if where is not None else None
        checked.append(PromiseResult(result.name, False, why) if why else result)
    return checked
