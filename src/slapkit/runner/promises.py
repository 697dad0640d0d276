"""Run a partition's promises as slapgrid does: the executables of
``etc/promise`` and the plugins of ``etc/plugin`` (with slapos.core's
launcher, when it is installed)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# How long one run of one promise may take (the runner retries failing
# promises for --promise-timeout seconds in all, see run_promises).
ONE_RUN_TIMEOUT = 20.0


@dataclass(frozen=True)
class PromiseResult:
    name: str
    kept: bool
    message: str
    # A test-less plugin at deploy: slapgrid's launcher does not run it at
    # instantiation (only its anomaly check does, as slapkit status).
    skipped: bool = False


def run_promise(path: Path, partition: Path) -> PromiseResult:
    try:
        proc = subprocess.run(
            [str(path)],
            cwd=partition,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",  # a promise's output is any bytes
            timeout=ONE_RUN_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return PromiseResult(path.name, False, f"timed out after {ONE_RUN_TIMEOUT:.0f}s")
    except OSError as exc:
        return PromiseResult(path.name, False, f"cannot run: {exc.strerror}")
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    message = lines[-1] if lines else ""
    if proc.returncode != 0 and not message:
        message = f"exited {proc.returncode}"
    return PromiseResult(path.name, proc.returncode == 0, message)


def promise_paths(partition: Path) -> list[Path]:
    directory = partition / "etc" / "promise"
    if not directory.is_dir():
        return []
    return [
        directory / name
        for name in sorted(os.listdir(directory))
        if os.access(directory / name, os.X_OK) and (directory / name).is_file()
    ]


def run_promises(
    partition: Path,
    wait: float = 0.0,
    progress: Callable[[str], None] = lambda line: None,
    can_change: Callable[[], bool] = lambda: True,
) -> list[PromiseResult]:
    """Run every promise; while some fail, retry them until ``wait`` seconds passed
    (a service just started may need a moment to listen), saying which ones
    are waited for and how long is left; not at all once ``can_change`` says
    nothing running could change the answer (every service down)."""
    deadline = time.monotonic() + wait
    results = {path: run_promise(path, partition) for path in promise_paths(partition)}
    said: tuple[str, float] | None = None
    while not all(r.kept for r in results.values()):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if not can_change():
            progress("promises: not waited for: no program of the partition runs to keep them")
            break
        failing = [r for r in results.values() if not r.kept]
        names = ", ".join(r.name for r in failing)
        # A line when what is waited for changes, else every 5 s (a log
        # is not a terminal: no line every retry).
        if said is None or said[0] != names or said[1] - left >= 5:
            progress(f"promises: waiting for {names} ({left:.0f} s left): {failing[0].message}")
            said = (names, left)
        time.sleep(min(0.25, left))
        for path, result in results.items():
            if not result.kept:
                results[path] = run_promise(path, partition)
    return list(results.values())


# slapgrid's promise launcher (slapos.core) on one partition's etc/plugin,
# in a process of its own (it changes directory, sys.path and sys.modules);
# it prints each plugin's result as JSON: [kept, message], kept null for a
# plugin the launcher skipped in this mode (test-less ones at deploy, as
# slapgrid skips them at instantiation; anomaly-less ones in anomaly mode).
_LAUNCH = """
import json, logging, os, stat, sys
from slapos.grid.promise import PromiseError, PromiseLauncher
partition, timeout, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
folder = os.path.join(partition, "etc", "plugin")
logger = logging.getLogger("slapkit-promises")
logger.addHandler(logging.NullHandler())
logger.propagate = False
names = sys.argv[4:] or [n for n in sorted(os.listdir(folder))
                         if n.endswith(".py") and not n.startswith("__init__")]
done = os.path.join(partition, ".slapgrid", "promise", "result")
cache = os.path.join(partition, ".slapgrid", "promise", "cache")
# slapgrid's directories in the partition, which the launcher writes into
# and slapkit removes from: a link there (planted) would lead outside.
for directory in (os.path.join(partition, ".slapgrid"), os.path.dirname(done), done, cache):
    try:
        info = os.lstat(directory)
    except FileNotFoundError:
        continue
    if not stat.S_ISDIR(info.st_mode):
        why = directory + " is not a directory of the partition's (a link?): not run"
        print(json.dumps({name: [False, why] for name in names}))
        sys.exit(0)
def remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
def read_json(path):
    # never through a symlink, never a FIFO
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as stream:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(path)
        return json.loads(stream.read(1 << 20).decode("utf-8", "replace"))
# What an earlier run left is not this run's answer: a skipped plugin leaves
# no result, and the launcher skips a plugin its cache calls test-less.
for name in names:
    remove(os.path.join(done, name[:-3] + ".status.json"))
    remove(os.path.join(cache, name[:-3]))
# Only the plugins: etc/promise is run by slapkit itself.
launcher = PromiseLauncher(config={
    "partition-folder": partition, "promise-folder": folder, "log-folder": None,
    "force": True, "promise-timeout": timeout, "run-only-promise-list": names,
    "check-anomaly": mode == "anomaly",
}, logger=logger)
# An anomaly found here is reported, never sent to a master ("bang").
launcher.bang_called = True
try:
    launcher.run()
except PromiseError:
    pass
results = {}
for name in names:
    try:
        result = read_json(os.path.join(done, name[:-3] + ".status.json"))["result"]
        message = str(result["message"] or "")
        # The launcher's own words for a plugin that crashed or hung: in its
        # anomaly mode it counts them as a problem only when the result
        # before failed too; a crash is never kept.
        crashed = message.startswith(("Error: No output returned", "Error: Promise timed out"))
        results[name] = [not result["failed"] and not crashed, message]
        continue
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        pass
    try:
        ran = read_json(os.path.join(cache, name[:-3]))
        flag = "is_anomaly_detected" if mode == "anomaly" else "is_tested"
        if ran[flag] is False:
            results[name] = [None, mode]
            continue
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        pass
    results[name] = [False, "the launcher left no result"]
print(json.dumps(results))
"""


def plugin_paths(partition: Path) -> list[Path]:
    directory = partition / "etc" / "plugin"
    if not directory.is_dir():
        return []
    return [
        directory / name
        for name in sorted(os.listdir(directory))
        if name.endswith(".py") and not name.startswith("__init__")
    ]


def _launch_plugins(
    partition: Path, mode: str = "test", names: tuple[str, ...] = ()
) -> list[PromiseResult]:
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _LAUNCH, str(partition), str(ONE_RUN_TIMEOUT), mode, *names],
            cwd=partition,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=ONE_RUN_TIMEOUT * 3,
        )
        results = json.loads(proc.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        return [PromiseResult("etc/plugin", False, "the promise launcher timed out")]
    except (ValueError, IndexError):
        lines = proc.stderr.strip().splitlines()
        why = lines[-1] if lines else f"exited {proc.returncode}"
        return [PromiseResult("etc/plugin", False, f"the promise launcher failed: {why}")]
    return [
        PromiseResult(f"plugin/{name}", False, _SKIPPED[mode], skipped=True)
        if kept is None
        else PromiseResult(f"plugin/{name}", bool(kept), _last_line(str(message)))
        for name, (kept, message) in sorted(results.items())
    ]


_SKIPPED = {
    "test": "test-less: slapgrid runs it only in its anomaly check, as slapkit status does",
    "anomaly": "test-less and anomaly-less: never run",
}


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def run_plugins(
    partition: Path, wait: float = 0.0, anomalies: bool = False
) -> tuple[list[PromiseResult], str | None]:
    """Run ``etc/plugin``'s promise plugins with slapgrid's launcher, retried
    while some fail for ``wait`` seconds; or say why they were not run.

    As slapgrid at instantiation, a test-less plugin is skipped (reported
    so, not as failing). With ``anomalies`` (slapkit status), those are then
    run as slapos node's anomaly check runs them."""
    paths = plugin_paths(partition)
    if not paths:
        return [], None
    if (
        importlib.util.find_spec("slapos") is None
        or importlib.util.find_spec("slapos.grid.promise") is None
    ):
        return [], (
            f"{len(paths)} promise plugin(s) in etc/plugin not run: slapgrid's promise "
            "launcher comes with slapos.core (pip install slapkit[master])"
        )
    deadline = time.monotonic() + wait
    results = _launch_plugins(partition)
    while time.monotonic() < deadline and not all(r.kept or r.skipped for r in results):
        time.sleep(0.5)
        results = _launch_plugins(partition)
    skipped = tuple(r.name.removeprefix("plugin/") for r in results if r.skipped)
    if anomalies and skipped:
        checked = {r.name: r for r in _launch_plugins(partition, "anomaly", skipped)}
        results = [checked.get(r.name, r) for r in results]
    return results, None
