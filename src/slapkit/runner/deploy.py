"""``slapkit deploy``: what slapgrid does for one partition, with no master."""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

from slapkit.core.files import write_if_changed
from slapkit.core.partition_state import STATE_DIR
from slapkit.runner.promises import PromiseResult, run_promises
from slapkit.runner.supervisor import Supervisor, WATCHDOG_MARK
from slapkit.slap.sources import SourceError, parse_parameters

PARTITION_ID = "slappart0"
COMPUTER_ID = "slapkit-local"

TAIL = """

# This is beginning of zc.buildout profile's tail added by slapkit deploy,
# the same as slapgrid's
[buildout]
# put buildout generated binaries in specific directory
bin-directory = ${{buildout:directory}}/sbin

# protect software and run parts offline
offline = true

[slap-connection]
computer-id = {computer_id}
partition-id = {partition_id}
server-url =
software-release-url = {software_url}
key-file =
cert-file =
shared-part-list =
build-time-part-list =
requested-state = started
# slapkit deploy: the parameters given with -p / --parameters
parameters-file = {parameters_file}

[slap_connection]
# Kept for backward compatiblity
computer_id = {computer_id}
partition_id = {partition_id}
server_url =
software_release_url = {software_url}
key_file =
cert_file =

[storage-configuration]
storage-home =

[network-information]
global-ipv4-network =
# This is end of zc.buildout profile's tail added by slapkit deploy
"""

_PART_LINE = re.compile(r"^(Installing|Updating|Uninstalling) (.+)\.$")
_CHANGE_LINE = re.compile(r"^\S+: (created|updated|removed|published) ")


class DeployError(Exception):
    """The deployment could not be made; the message says why."""


@dataclass
class Deployment:
    partition: Path
    buildout_ok: bool = False
    buildout_error: str = ""
    files_changed: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    failed_services: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    promises: list[PromiseResult] = field(default_factory=list)
    connection: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.buildout_ok
            and not self.failed_services
            and not self.skipped
            and all(p.kept for p in self.promises)
        )


def collect_parameters(assignments: list[str], parameters_file: str | None) -> dict:
    parameters: dict = {}
    if parameters_file:
        try:
            with open(parameters_file, encoding="utf-8") as stream:
                parameters = parse_parameters(stream.read())
        except OSError as exc:
            raise DeployError(f"cannot read {parameters_file}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise DeployError(f"{parameters_file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except SourceError as exc:
            raise DeployError(f"{parameters_file}: {exc}") from None
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not name:
            raise DeployError(f"-p {assignment!r}: expected NAME=VALUE")
        parameters[name] = value
    return parameters


def prepare_partition(profile: Path, partition: Path, parameters: dict) -> None:
    """Write the parameters file and ``buildout.cfg``: the profile plus the tail."""
    try:
        text = profile.read_text(encoding="utf-8")
    except OSError as exc:
        raise DeployError(f"cannot read the profile {profile}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise DeployError(f"the profile {profile} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    state = partition / STATE_DIR
    parameters_file = state / "parameters.json"
    write_if_changed(
        str(parameters_file), json.dumps(parameters, indent=2, sort_keys=True) + "\n", 0o600
    )
    tail = TAIL.format(
        computer_id=COMPUTER_ID,
        partition_id=PARTITION_ID,
        software_url=profile.resolve().as_uri(),
        parameters_file=parameters_file,
    )
    write_if_changed(str(partition / "buildout.cfg"), text + tail)


def make_partition(partition: Path) -> None:
    """The partition directory and its ``.slapkit`` (0700)."""
    try:
        partition.mkdir(mode=0o750, parents=True, exist_ok=True)
        (partition / STATE_DIR).mkdir(mode=0o700, exist_ok=True)
    except FileExistsError:
        raise DeployError(f"--partition {partition}: exists and is not a directory") from None
    except OSError as exc:
        raise DeployError(f"--partition {partition}: {exc.strerror}") from None


@contextmanager
def deploy_lock(partition: Path, say: Callable[[str], None]) -> Iterator[None]:
    """One ``slapkit deploy`` at a time on a partition: the next one waits."""
    path = partition / STATE_DIR / "deploy.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
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
    if not installed.exists():
        return None
    import zc.buildout.configparser

    try:
        with open(installed, encoding="utf-8") as stream:
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


def run_buildout(
    partition: Path, progress: Callable[[str], None], verbose: bool = False
) -> tuple[bool, list[str], str]:
    """Run buildout in the partition under slapgrid's umask 027.

    Returns (succeeded, changed-file lines, error text); the whole output
    goes to ``.slapkit/buildout.log``.
    """
    command = [
        sys.executable,
        "-c",
        "import sys, zc.buildout.buildout as b; b.main(sys.argv[1:])",
        "-U",
        "-c",
        "buildout.cfg",
    ]
    log_path = partition / STATE_DIR / "buildout.log"
    changes: list[str] = []
    lines: list[str] = []
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command,
            cwd=partition,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            umask=0o027,
        )
        assert process.stdout is not None
        count = 0
        for line in process.stdout:
            log.write(line)
            line = line.rstrip("\n")
            lines.append(line)
            match = _PART_LINE.match(line)
            if match:
                count += 1
                progress(f"[{count}] {match.group(1)} {match.group(2)}")
            elif _CHANGE_LINE.match(line):
                changes.append(line)
        returncode = process.wait()
    error = "" if returncode == 0 else buildout_error(lines, verbose)
    return returncode == 0, changes, error


def buildout_error(lines: list[str], verbose: bool = False) -> str:
    """The error that stopped buildout, whatever its form: its ``While:``
    lines and its ``Error:`` (a UserError), or the exception a traceback
    ended with (a parse error, a recipe's bug), without the traceback
    unless ``verbose``."""
    indented = (" ", "\t")
    kept: list[str] = []
    exception: list[str] = []
    in_block = False  # inside a While:/Error: block (its indented lines)
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("Traceback (most recent call last):"):
            frames_end = index + 1
            while frames_end < len(lines) and lines[frames_end].startswith(indented):
                frames_end += 1
            end = frames_end + 1
            while end < len(lines) and lines[end].startswith(indented):
                end += 1
            exception = lines[frames_end:end]
            if verbose:
                kept += lines[index:end]
            index, in_block = end, False
            continue
        if line.startswith(("While:", "Error:")):
            in_block = True
            kept.append(line)
        elif in_block and line.startswith(indented):
            kept.append(line)
        else:
            in_block = False
        index += 1
    if exception and not any(line.startswith("Error:") for line in kept):
        kept += ["Error: " + exception[0].strip()] + exception[1:]
    return "\n".join(kept[-40:] if kept else lines[-15:])


def log_tail(partition: Path, program_id: str, lines: int = 5) -> str:
    try:
        text = (partition / f".{program_id}.log").read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.strip().splitlines()[-lines:]) or "(empty log)"


def deploy(
    profile: Path,
    partition: Path,
    parameters: dict,
    progress: Callable[[str], None] = lambda line: None,
    promise_wait: float = 20.0,
    verbose: bool = False,
) -> Deployment:
    started_at = time.monotonic()
    partition = partition.resolve()
    make_partition(partition)
    with deploy_lock(partition, progress):
        result = _deploy_locked(profile, partition, parameters, progress, promise_wait, verbose)
    result.seconds = time.monotonic() - started_at
    return result


def _deploy_locked(
    profile: Path,
    partition: Path,
    parameters: dict,
    progress: Callable[[str], None],
    promise_wait: float,
    verbose: bool,
) -> Deployment:
    prepare_partition(profile, partition, parameters)
    result = Deployment(partition)
    broken = set_aside_broken_installed_cfg(partition)
    if broken:
        result.notes.append(
            f"buildout's .installed.cfg was cut short (a killed run): moved to {broken}"
        )
    result.buildout_ok, result.files_changed, result.buildout_error = run_buildout(
        partition, progress, verbose
    )
    if result.buildout_ok:
        supervisor = Supervisor(partition, PARTITION_ID)
        progress("supervisord: loading programs")
        if not supervisor.is_running():
            for orphan in supervisor.stop_orphans():
                result.notes.append(
                    f"stopped a program a killed supervisord left running: {orphan}"
                )
        result.skipped = supervisor.skipped()
        added, changed, removed = supervisor.sync()
        result.started, result.restarted, result.stopped = pair_restarts(added, changed, removed)
        supervisor.settled_process_info()
        restarted_failed = _restart_failed(supervisor)
        result.restarted += restarted_failed
        progress("promises: checking")
        result.promises = run_promises(partition, wait=promise_wait)
        result.failed_services = failed_services(supervisor)
    result.connection = read_connection(partition)
    return result


_DIGEST = re.compile(r"-[0-9a-f]{16}$")


def pair_restarts(
    added: list[str], changed: list[str], removed: list[str]
) -> tuple[list[str], list[str], list[str]]:
    """(started, restarted, stopped): a program replaced by the same wrapper
    with a new digest (``hash-files``) is one service restarted."""
    removed_bases = {_DIGEST.sub("", name) for name in removed}
    added_bases = {_DIGEST.sub("", name) for name in added}
    restarted = list(changed) + [n for n in added if _DIGEST.sub("", n) in removed_bases]
    started = [n for n in added if _DIGEST.sub("", n) not in removed_bases]
    stopped = [n for n in removed if _DIGEST.sub("", n) not in added_bases]
    return started, restarted, stopped


def _restart_failed(supervisor: Supervisor) -> list[str]:
    """Start again what slapgrid would: services not running, failed one-shots."""
    again = []
    for info in supervisor.process_info():
        watched = info["name"].endswith(WATCHDOG_MARK)
        state = info["statename"]
        if (watched and state in ("EXITED", "FATAL", "BACKOFF")) or (
            not watched and state in ("EXITED", "FATAL") and info["exitstatus"] != 0
        ):
            again.append(info["group"])
    if not again:
        return again
    supervisor.start_programs(again)
    supervisor.settled_process_info()
    return again


def program_failure(info: dict[str, Any]) -> str | None:
    """Why a program is not as it should be, or None.

    A service (``etc/service``) must be RUNNING, which supervisord says once
    it stayed up ``startsecs``. A one-shot (``etc/run``) must have run: it
    is running, or it exited 0; one that never started is a failure too.
    """
    watched = info["name"].endswith(WATCHDOG_MARK)
    state = info["statename"]
    if state == "RUNNING" or (not watched and (
        state == "STARTING" or (state == "EXITED" and info["exitstatus"] == 0)
    )):
        return None
    if state == "STOPPED" and not info.get("start"):
        return "never started"
    if state == "EXITED":
        return f"EXITED (exit {info['exitstatus']})"
    return state + (f": {info['spawnerr']}" if info.get("spawnerr") else "")


def failed_services(supervisor: Supervisor) -> list[tuple[str, str]]:
    """Services of ``etc/service`` that are not running, and one-shots that
    failed or never ran, with the tail of their log (slapgrid would alert
    the master)."""
    failed = []
    for info in supervisor.settled_process_info():
        why = program_failure(info)
        if why:
            failed.append((f"{info['name']} {why}", log_tail(supervisor.partition, info["group"])))
    return failed


def read_connection(partition: Path) -> dict[str, str]:
    try:
        with open(partition / STATE_DIR / "connection.json", encoding="utf-8") as stream:
            data = json.load(stream)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def print_summary(result: Deployment, out: TextIO) -> None:
    write = lambda text="": print(text, file=out)  # noqa: E731
    write()
    write(f"partition    {result.partition}")
    for note in result.notes:
        write(f"note         {note}")
    if not result.buildout_ok:
        write("buildout     FAILED")
        for line in result.buildout_error.splitlines():
            write(f"  {line}")
        return
    write(f"files        {len(result.files_changed)} changed")
    for line in result.files_changed:
        write(f"  {line}")
    restarts = len(result.restarted)
    write(
        f"services     {len(result.started)} started, {restarts} restarted, "
        f"{len(result.stopped)} stopped"
    )
    for label, names in (("started", result.started), ("restarted", result.restarted),
                         ("stopped", result.stopped)):
        for name in names:
            write(f"  {label:9} {name}")
    for name, log in result.failed_services:
        write(f"  FAILED    {name}")
        for line in log.splitlines():
            write(f"    | {line}")
    for line in result.skipped:
        write(f"  SKIPPED   {line}")
    kept = sum(p.kept for p in result.promises)
    write(f"promises     {kept} kept, {len(result.promises) - kept} failing")
    for promise in result.promises:
        if promise.kept:
            write(f"  kept      {promise.name}")
        else:
            write(f"  FAILING   {promise.name}: {promise.message}")
    write("connection   " + ("" if result.connection else "(nothing published)"))
    for key, value in sorted(result.connection.items()):
        write(f"  {key} = {value}")
    write(f"{'ok' if result.ok else 'NOT OK'} in {result.seconds:.1f}s")
