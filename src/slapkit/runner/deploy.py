"""``slapkit deploy``: what slapgrid does for one partition, with no master."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

from slapkit.core.files import write_if_changed
from slapkit.runner.promises import PromiseResult, run_promises
from slapkit.runner.supervisor import STATE_DIR, Supervisor, WATCHDOG_MARK
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
    promises: list[PromiseResult] = field(default_factory=list)
    connection: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.buildout_ok
            and not self.failed_services
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
    partition.mkdir(mode=0o750, parents=True, exist_ok=True)
    state = partition / STATE_DIR
    state.mkdir(mode=0o700, exist_ok=True)
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
    partition: Path, progress: Callable[[str], None]
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
            preexec_fn=lambda: os.umask(0o027),
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
    error = ""
    if returncode != 0:
        tail = [l for l in lines if l.startswith(("Error:", "While:", "  "))] or lines[-15:]
        error = "\n".join(tail[-20:])
    return returncode == 0, changes, error


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
) -> Deployment:
    started_at = time.monotonic()
    partition = partition.resolve()
    prepare_partition(profile, partition, parameters)
    result = Deployment(partition)
    broken = set_aside_broken_installed_cfg(partition)
    if broken:
        result.notes.append(
            f"buildout's .installed.cfg was cut short (a killed run): moved to {broken}"
        )
    result.buildout_ok, result.files_changed, result.buildout_error = run_buildout(
        partition, progress
    )
    if result.buildout_ok:
        supervisor = Supervisor(partition, PARTITION_ID)
        progress("supervisord: loading programs")
        added, changed, removed = supervisor.sync()
        result.started, result.restarted, result.stopped = pair_restarts(added, changed, removed)
        restarted_failed = _restart_failed(supervisor)
        result.restarted += restarted_failed
        progress("promises: checking")
        result.promises = run_promises(partition, wait=promise_wait)
        result.failed_services = failed_services(supervisor)
    result.connection = read_connection(partition)
    result.seconds = time.monotonic() - started_at
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
    supervisor.start_programs(again)
    return again


def failed_services(supervisor: Supervisor) -> list[tuple[str, str]]:
    """Services of ``etc/service`` that are not running, and failed one-shots,
    with the tail of their log (slapgrid would alert the master)."""
    time.sleep(0.2)  # let a program that exits at once be seen as exited
    failed = []
    for info in supervisor.process_info():
        watched = info["name"].endswith(WATCHDOG_MARK)
        state = info["statename"]
        bad = (watched and state not in ("RUNNING", "STARTING")) or (
            not watched and state in ("EXITED", "FATAL", "BACKOFF") and info["exitstatus"] != 0
        )
        if bad:
            failed.append(
                (f"{info['name']} {state} (exit {info['exitstatus']})",
                 log_tail(supervisor.partition, info["group"]))
            )
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
