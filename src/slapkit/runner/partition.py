"""The partition ``slapkit deploy`` prepares, as slapgrid prepares one.

Its ``buildout.cfg`` (the profile and slapgrid's tail), its parameters, its
lock, and the repair of a ``.installed.cfg`` that a killed buildout cut
short.
"""

from __future__ import annotations

import errno
import fcntl
import importlib.metadata
import io
import json
import os
import re
import stat
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from slapkit.core.files import read_regular_file, replace_symlink, write_if_changed
from slapkit.core.partition_state import state_directory
from slapkit.instance.sources import SourceError, parse_parameters
from slapkit.runner.display import shown
from slapkit.runner.local_master import LocalMaster, MasterInputError, read_input_file
from slapkit.runner.supervisor import PARTITION_ID, config_path_problem

COMPUTER_ID = "slapkit-local"

# What slapkit deploy appends to the profile: the sections and options
# slapgrid's own tail gives every partition (their names are what profiles
# read), with the runner's two additions. TAIL_MARKER starts it.
TAIL_MARKER = "# -- appended by slapkit deploy (the options slapgrid gives a partition)"
TAIL = """

{marker}
[buildout]
offline = true
bin-directory = ${{buildout:directory}}/sbin
{eggs_directory_version}
[slap-connection]
computer-id = {computer_id}
partition-id = {partition_id}
software-release-url = {software_url}
server-url =
key-file =
cert-file =
requested-state = started
shared-part-list =
build-time-part-list =
# the runner's: the parameters of -p and --parameters, as a JSON file
parameters-file = {parameters_file}
# the runner's: the master's answer it plays (read by slapkit:slapconfiguration)
instance-file = {instance_file}
# the runner's: what the instances this one requests publish (slapkit:request)
requested-file = {requested_file}

# the older spelling, which some profiles still read
[slap_connection]
computer_id = {computer_id}
partition_id = {partition_id}
software_release_url = {software_url}
server_url =
key_file =
cert_file =

[storage-configuration]
storage-home =

[network-information]
global-ipv4-network =
# -- end of what slapkit deploy appended
"""


class DeployError(Exception):
    """The deployment could not be made; the message says why."""


def collect_parameters(assignments: list[str], parameters_file: str | None) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    if parameters_file:
        try:
            parameters = parse_parameters(read_input_file("--parameters", parameters_file))
        except MasterInputError as exc:
            raise DeployError(str(exc)) from None
        except SourceError as exc:
            raise DeployError(f"--parameters: {exc}") from None
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not name:
            raise DeployError(f"-p {assignment!r}: expected NAME=VALUE")
        parameters[name] = value
    return parameters


def prepare_partition(
    profile: Path,
    partition: Path,
    parameters: dict[str, Any],
    master: LocalMaster | None = None,
) -> None:
    """Write the parameters file, the master's answer and ``buildout.cfg``:
    the profile plus the tail."""
    try:
        text = profile.read_text(encoding="utf-8")
    except OSError as exc:
        raise DeployError(f"cannot read the profile {profile}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise DeployError(
            f"the profile {profile} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    state = Path(checked_state_directory(partition))
    software_url = profile.resolve().as_uri()
    release = master.software_release if master else None
    # First: a deploy it refuses writes nothing else.
    link_software_release(partition, release, software_url)
    parameters_file = state / "parameters.json"
    write_if_changed(
        str(parameters_file), json.dumps(parameters, indent=2, sort_keys=True) + "\n", 0o600
    )
    answer = (master or LocalMaster()).answer(parameters, COMPUTER_ID, PARTITION_ID, software_url)
    instance_file = state / "instance.json"
    write_if_changed(str(instance_file), json.dumps(answer, indent=2, sort_keys=True) + "\n", 0o600)
    requested_file = state / "requested.json"
    requested = master.requested if master else {}
    # Compact: the runner refuses more than 1 MB of it, and so does the recipe.
    write_if_changed(
        str(requested_file), json.dumps(requested, separators=(",", ":"), sort_keys=True), 0o600
    )
    tail = TAIL.format(
        eggs_directory_version=eggs_directory_version(text, release),
        marker=TAIL_MARKER,
        computer_id=COMPUTER_ID,
        partition_id=PARTITION_ID,
        software_url=software_url,
        parameters_file=parameters_file,
        instance_file=instance_file,
        requested_file=requested_file,
    )
    write_if_changed(str(partition / "buildout.cfg"), text + tail)


def eggs_directory_version(profile_text: str, software_release: Path | None) -> str:
    """The tail's line that keeps zc.buildout 5+ from looking for eggs in
    ``EGGS/v5``: a software release built with zc.buildout 3 (what SlapOS
    pins) has them in ``EGGS`` itself, and its instance profiles name that
    directory. Kept when the software release has a ``v5`` directory, or
    the profile says ``eggs-directory-version`` itself."""
    if int(importlib.metadata.version("zc.buildout").split(".")[0]) < 5:
        return ""
    if re.search(r"(?m)^[ \t]*eggs-directory-version[ \t]*[=:]", profile_text):
        return ""
    if software_release is not None and (software_release / "eggs" / "v5").is_dir():
        return ""
    return (
        "# eggs in EGGS, not EGGS/v5: software releases are built with zc.buildout 3\n"
        "eggs-directory-version =\n"
    )


SOFTWARE_RELEASE_LINK = "software_release"
RUNNERS_SOFTWARE_RELEASE = "software-release"


def link_software_release(partition: Path, directory: Path | None, software_url: str) -> None:
    """``software_release`` in the partition: a link to the software
    release's directory, as slapgrid makes it (profiles hash its
    ``buildout.cfg`` to restart services when the software changes).
    Without ``directory``, the runner's own in ``.slapkit``, whose
    ``buildout.cfg`` names the profile: it changes when another profile is
    deployed, as slapgrid's changes with the software release's URL. A link
    found there is replaced; anything else there is refused, never removed."""
    link = partition / SOFTWARE_RELEASE_LINK
    if not link.is_symlink() and os.path.lexists(link):
        raise DeployError(
            f"{link} is not a symbolic link: slapkit deploy links the software release "
            "there, as slapgrid does; move it away"
        )
    if directory is None:
        own = Path(checked_state_directory(partition)) / RUNNERS_SOFTWARE_RELEASE
        try:
            own.mkdir(mode=0o750, exist_ok=True)
            if own.is_symlink() or not own.is_dir():
                raise DeployError(f"{own}: not a directory slapkit made; remove it")
            write_if_changed(
                str(own / "buildout.cfg"),
                "# Made by slapkit deploy, which was given no --software-release: the\n"
                "# software release is the profile's.\n"
                f"[buildout]\nextends = {software_url}\n",
            )
        except OSError as exc:
            raise DeployError(f"{exc.filename or own}: {exc.strerror}") from None
        directory = own
    target = str(directory)
    if link.is_symlink() and os.readlink(link) == target:
        return
    try:
        replace_symlink(target, str(link))
    except OSError as exc:
        raise DeployError(f"{link}: {exc.strerror}") from None


_SOFTWARE_URL = re.compile(rb"^software-release-url = (file://\S*)$", re.MULTILINE)


def copied_profile(partition: Path) -> Path | None:
    """The profile whose copy the partition's ``buildout.cfg`` still is: the
    profile's text, unchanged, is then the first lines of ``buildout.cfg``,
    line for line, so what buildout says of line N there is of line N of the
    profile. None when either is gone or not a regular file, or when they
    differ (the profile was edited since)."""
    config = read_regular_file(str(partition / "buildout.cfg"))
    if config is None:
        return None
    end = config.rfind(f"\n\n{TAIL_MARKER}\n".encode())  # where TAIL starts
    found = _SOFTWARE_URL.search(config, end) if end >= 0 else None
    if found is None:
        return None
    url = urllib.parse.urlsplit(found.group(1).decode("utf-8", errors="replace"))
    profile = Path(urllib.request.url2pathname(url.path))
    try:
        original = read_regular_file(str(profile))  # never a FIFO opened
    except OSError:
        return None
    if original is None:
        return None
    # As prepare_partition read it: line ends made "\n", as buildout reads both.
    copied = original.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    return profile if copied.encode() == config[:end] else None


def make_partition(partition: Path) -> None:
    """The partition directory and its ``.slapkit`` (0700, this user's own)."""
    problem = config_path_problem(str(partition))
    if problem is not None:
        # It is written into supervisord's configuration, line by line.
        raise DeployError(f"--partition {shown(repr(str(partition)))}: {problem}")
    try:
        partition.mkdir(mode=0o750, parents=True, exist_ok=True)
    except FileExistsError:
        raise DeployError(f"--partition {partition}: exists and is not a directory") from None
    except OSError as exc:
        raise DeployError(f"--partition {partition}: {exc.strerror}") from None
    checked_state_directory(partition)


def checked_state_directory(partition: Path) -> str:
    """``.slapkit`` of the partition, made when missing; DeployError when it
    is a symlink or anything but a directory of this user's own (the
    runner's state, secrets and socket would go wherever it points)."""
    try:
        return state_directory(str(partition))
    except OSError as exc:
        where = exc.filename or partition
        raise DeployError(f"{where}: {exc.strerror}") from None


@contextmanager
def deploy_lock(partition: Path, say: Callable[[str], None]) -> Iterator[None]:
    """One ``slapkit deploy`` at a time on a partition: the next one waits."""
    path = os.path.join(checked_state_directory(partition), "deploy.lock")
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
            raise
        fd = None
    info = os.fstat(fd) if fd is not None else None
    if fd is None or info is None or not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        if fd is not None:
            os.close(fd)
        raise DeployError(
            f"{path}: not a regular file of its own (a symlink, a FIFO, a hard link?): remove it"
        )
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            say(f"waiting for another slapkit deploy on {partition} (pid {holder}) to finish")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def set_aside_broken_installed_cfg(partition: Path) -> str | None:
    """Move away a ``.installed.cfg`` that buildout itself could not read.

    zc.buildout rewrites that file in place (truncate, then write): a run
    killed in between leaves it empty or cut short, and every later run
    fails with an internal error. slapkit's recipes look at the disk, not at
    that file, so starting without it changes nothing that is right already.
    Returns the path it was moved to, or None when it was fine.
    """
    installed = partition / ".installed.cfg"
    if not os.path.lexists(installed):
        return None
    import zc.buildout.configparser

    try:
        # Never through a symlink, never a FIFO opened: those are set aside.
        data = read_regular_file(str(installed))
        if data is None:
            raise ValueError("not a regular file")
        stream = io.StringIO(data.decode("utf-8"))
        sections = zc.buildout.configparser.parse(stream, str(installed))
        readable = "parts" in sections.get("buildout", {}) and all(
            part in sections for part in sections["buildout"]["parts"].split()
        )
    except Exception:  # any parse failure: buildout would fail the same way
        readable = False
    if readable:
        return None
    broken = installed.with_name(".installed.cfg.broken")
    os.replace(installed, broken)
    return str(broken)
