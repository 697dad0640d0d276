"""``slapkit deploy``: what slapgrid does for one partition, with no master."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slapkit.core.files import read_regular_file, remove_file
from slapkit.core.parameter_reads import EVERY_PARAMETER, REPORT_FILE
from slapkit.core.partition_state import (
    STATE_DIR,
    owned_directory,
    read_kept_json,
    without_digest,
)
from slapkit.recipes.publish import CONNECTION_FILE, SHARED_CONNECTION_FILE, trusted_record
from slapkit.runner.buildout_run import run_buildout
from slapkit.runner.local_master import LocalMaster
from slapkit.runner.logs import tail
from slapkit.runner.near_misses import near_misses
from slapkit.runner.partition import (
    deploy_lock,
    make_partition,
    prepare_partition,
    set_aside_broken_installed_cfg,
)
from slapkit.runner.port_owners import checked_owners
from slapkit.runner.promises import PromiseResult, promise_paths, run_plugins, run_promises
from slapkit.runner.supervisor import PARTITION_ID, WATCHDOG_MARK, Supervisor


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
    # Published to each shared instance, by reference.
    shared_connection: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    buildout_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.buildout_ok
            and not self.failed_services
            and not self.skipped
            and all(p.kept or p.skipped for p in self.promises)
        )


def log_tail(partition: Path, program_id: str, lines: int = 5) -> str:
    path = partition / f".{program_id}.log"
    try:
        if not path.is_file() or path.is_symlink():
            return "(no log)"
        text, _ = tail(path, lines)
    except OSError:
        return "(no log)"
    return "\n".join(line for line in text if line.strip()) or "(empty log)"


def deploy(
    profile: Path,
    partition: Path,
    parameters: dict[str, Any],
    progress: Callable[[str], None] = lambda line: None,
    promise_wait: float = 20.0,
    verbose: bool = False,
    master: LocalMaster | None = None,
    oneshot_wait: float = 60.0,
    prepared: Callable[[], None] = lambda: None,
) -> Deployment:
    """Deploy ``profile`` in ``partition``; ``prepared`` is called once the
    profile was read and the partition prepared, before buildout runs."""
    return deploy_resolved(
        partition,
        lambda: (profile, parameters, master),
        progress,
        promise_wait,
        verbose,
        oneshot_wait,
        prepared,
    )


Resolver = Callable[[], tuple[Path, dict[str, Any], LocalMaster | None]]


def deploy_resolved(
    partition: Path,
    resolve: Resolver,
    progress: Callable[[str], None] = lambda line: None,
    promise_wait: float = 20.0,
    verbose: bool = False,
    oneshot_wait: float = 60.0,
    prepared: Callable[[], None] = lambda: None,
    finished: Callable[[Deployment], None] = lambda result: None,
) -> Deployment:
    """``deploy``, with the profile, parameters and master given by
    ``resolve`` once the partition's deploy lock is held: a request that
    builds on what the partition remembers (``slapkit deploy -p x=1``) is
    then made from what the deploy before it left, never from what it found
    before waiting for it."""
    started_at = time.monotonic()
    partition = partition.resolve()
    make_partition(partition)
    with deploy_lock(partition, progress):
        profile, parameters, master = resolve()
        prepare_partition(profile, partition, parameters, master)
        prepared()
        result = _deploy_locked(
            partition, parameters, progress, promise_wait, verbose, oneshot_wait
        )
        finished(result)  # still under the lock: no later deploy's record overwritten
    result.seconds = time.monotonic() - started_at
    return result


def _deploy_locked(
    partition: Path,
    parameters: dict[str, Any],
    progress: Callable[[str], None],
    promise_wait: float,
    verbose: bool,
    oneshot_wait: float,
) -> Deployment:
    result = Deployment(partition)
    broken = set_aside_broken_installed_cfg(partition)
    if broken:
        result.notes.append(
            f"buildout's .installed.cfg was cut short (a killed run) or is not a file: "
            f"moved to {broken}"
        )
    report = partition / STATE_DIR / REPORT_FILE
    try:
        remove_file(str(report))  # what an earlier run read is not this one's
    except OSError:
        pass  # (a directory in the way: no report is read from it either)
    started = time.monotonic()
    run = run_buildout(partition, progress, verbose)
    result.buildout_seconds = time.monotonic() - started
    result.buildout_ok, result.files_changed, result.buildout_error = run.ok, run.changes, run.error
    result.warnings = run.warnings
    if result.buildout_ok:
        result.notes += unread_parameters(partition, parameters)
        result.notes += unasked_answers(partition)
        supervisor = Supervisor(partition, PARTITION_ID)
        progress("supervisord: loading programs")
        result.notes += supervisor.stop_orphan_supervisords()
        if not supervisor.is_running():
            for orphan in supervisor.stop_orphans():
                result.notes.append(
                    f"stopped a program a killed supervisord left running: {orphan}"
                )
        result.skipped = supervisor.skipped()
        added, changed, removed = supervisor.sync()
        result.started, result.restarted, result.stopped = pair_restarts(added, changed, removed)
        # A program started or restarted above and failing is started again
        # (as slapgrid does), and counted once.
        counted = set(result.started) | set(result.restarted)
        result.restarted += [n for n in _restart_failed(supervisor) if n not in counted]
        progress("promises: checking")
        result.promises = checked_owners(
            run_promises(partition, promise_wait, progress, lambda: _anything_running(supervisor)),
            {path.name: path for path in promise_paths(partition)},
            partition,
        )
        plugins, not_run = run_plugins(partition, wait=promise_wait)
        result.promises += plugins
        if not_run:
            result.notes.append(not_run)
        running = wait_for_oneshots(
            supervisor, set(result.started) | set(result.restarted), oneshot_wait, progress
        )
        result.notes += [
            f"{name} (a one-shot) still running after {oneshot_wait:g} s: its result is not "
            "known yet (slapkit status tells it later)"
            for name in running
        ]
        result.failed_services = failed_services(supervisor)
        result.notes += near_misses(partition)
    result.connection = read_connection(partition)
    shared = read_connection(partition, SHARED_CONNECTION_FILE)
    result.shared_connection = {
        reference: values for reference, values in shared.items() if isinstance(values, dict)
    }
    return result


def unread_parameters(partition: Path, parameters: dict[str, Any]) -> list[str]:
    """A note naming the parameters given that no part read (see
    ``slapkit.core.parameter_reads``)."""
    names = set(parameters)
    if isinstance(parameters.get("_"), str):  # SlapOS's serialised form
        try:
            inner = json.loads(parameters["_"])
        except (ValueError, RecursionError):
            inner = None
        if isinstance(inner, dict):
            names = (names - {"_"}) | set(inner)
    if not names:
        return []
    report = read_kept_json(str(partition), str(partition / STATE_DIR / REPORT_FILE))
    offered_by, read = report.get("offered_by"), report.get("read")
    if not isinstance(offered_by, list) or not isinstance(read, list):
        return []  # no report of this run: nothing is claimed
    listed = ", ".join(repr(name) for name in sorted(names))
    if not offered_by:
        return [
            f"no part reads the instance parameters ({listed}): a [slap-parameter] section "
            "needs recipe = slapkit:parameters (or use slapkit:slapconfiguration)"
        ]
    if EVERY_PARAMETER in read:
        return []
    unread = sorted(names - set(read))
    if not unread:
        return []
    read_given = ", ".join(repr(name) for name in sorted(names & set(read)))
    return [
        f"parameters no part read: {', '.join(repr(name) for name in unread)} (a typo? "
        f"read by this profile: {read_given or 'none of those given'})"
    ]


def unasked_answers(partition: Path) -> list[str]:
    """A note naming the answers of ``--requested`` for instances no part
    requested (a typo in a name would otherwise leave its request unanswered
    without a word)."""
    state = partition / STATE_DIR
    report = read_kept_json(str(partition), str(state / REPORT_FILE))
    requested = report.get("requested")
    try:
        data = read_regular_file(str(state / "requested.json"), 2 << 20)
        answers = json.loads(data) if data is not None else {}
    except (OSError, ValueError, RecursionError):
        return []
    if not isinstance(requested, list) or not isinstance(answers, dict):
        return []
    unasked = sorted(set(answers) - set(requested))
    if not unasked:
        return []
    asked = ", ".join(repr(name) for name in requested) or "none"
    return [
        f"--requested answers no part asked for: {', '.join(map(repr, unasked))} "
        f"(a typo? requested by this profile: {asked})"
    ]


def pair_restarts(
    added: list[str], changed: list[str], removed: list[str]
) -> tuple[list[str], list[str], list[str]]:
    """(started, restarted, stopped): a program replaced by the same wrapper
    with a new digest (``hash-files``) is one service restarted."""
    removed_bases = {without_digest(name) for name in removed}
    added_bases = {without_digest(name) for name in added}
    restarted = list(changed) + [n for n in added if without_digest(n) in removed_bases]
    started = [n for n in added if without_digest(n) not in removed_bases]
    stopped = [n for n in removed if without_digest(n) not in added_bases]
    return started, restarted, stopped


def _restart_failed(supervisor: Supervisor) -> list[str]:
    """Start again what slapgrid would: services not running, failed one-shots."""
    again = [info["group"] for info in supervisor.settled_process_info() if program_failure(info)]
    if not again:
        return again
    supervisor.start_programs(again)
    supervisor.settled_process_info()
    return again


def wait_for_oneshots(
    supervisor: Supervisor, started: set[str], timeout: float, progress: Callable[[str], None]
) -> list[str]:
    """Wait, at most ``timeout`` seconds, for the one-shots (``etc/run``)
    this deploy started to end, so that one that fails is reported, never
    taken for one that runs; the names of those still running then."""
    deadline = time.monotonic() + timeout
    while True:
        running = [
            info["name"]
            for info in supervisor.process_info()
            if info["group"] in started
            and not info["name"].endswith(WATCHDOG_MARK)
            and info["statename"] in ("STARTING", "RUNNING", "BACKOFF")
        ]
        left = deadline - time.monotonic()
        if not running or left <= 0:
            return running
        progress(f"one-shots: waiting for {', '.join(running)} to end ({left:.0f} s left)")
        time.sleep(min(0.2, left))


def _anything_running(supervisor: Supervisor) -> bool:
    """Whether a program of the partition runs or is starting: when none
    does, a failing promise cannot come to be kept by waiting."""
    return any(
        info["statename"] in ("STARTING", "RUNNING", "BACKOFF")
        for info in supervisor.process_info()
    )


def program_failure(info: dict[str, Any]) -> str | None:
    """Why a program is not as it should be, or None.

    A service (``etc/service``) must be RUNNING, which supervisord says once
    it stayed up ``startsecs``. A one-shot (``etc/run``) must have run: it
    exited 0, or it is still running (``wait_for_oneshots`` waited for it
    first, and says so); one that never started is a failure too.
    """
    watched = info["name"].endswith(WATCHDOG_MARK)
    state = info["statename"]
    if state == "RUNNING" or (
        not watched and (state == "STARTING" or (state == "EXITED" and info["exitstatus"] == 0))
    ):
        return None
    if state == "STOPPED" and not info.get("start"):
        return "never started"
    if state == "EXITED":
        return f"EXITED (exit {info['exitstatus']})"
    return str(state) + (f": {info['spawnerr']}" if info.get("spawnerr") else "")


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


def read_connection(partition: Path, name: str = CONNECTION_FILE) -> dict[str, Any]:
    """What ``slapkit:publish`` wrote to ``.slapkit/NAME``, or nothing (a
    record edited or planted there is not shown: see ``trusted_record``)."""
    state = partition / STATE_DIR
    if not owned_directory(str(state)):
        return {}
    return trusted_record(str(partition), str(state / name))
