"""Run real zc.buildout on real profiles in temporary directories.

``BuildoutDir.run()`` forks this (already warmed-up) test process and calls
``zc.buildout.buildout.main`` in the child, with its output sent to a file:
the real buildout, with slapkit found in the test environment's working set,
without paying an interpreter start and buildout's imports (about half a
second) on every run. ``run(subprocess=True)``, or SLAPKIT_TEST_FORK=0 for
the whole suite, runs the venv's ``buildout`` script in a fresh process.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess as _subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import zc.buildout.buildout  # imported once here, inherited by every fork

BUILDOUT_SCRIPT = Path(sys.executable).with_name("buildout")
RUN_TIMEOUT = 300
FORK_BY_DEFAULT = os.environ.get("SLAPKIT_TEST_FORK", "1") != "0"


@dataclass
class BuildoutResult:
    returncode: int
    output: str
    directory: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def check(self) -> BuildoutResult:
        assert self.returncode == 0, f"buildout failed ({self.returncode}):\n{self.output}"
        return self


class BuildoutDir:
    """A partition-like directory with a profile and a way to run buildout on it."""

    def __init__(self, directory: Path):
        self.directory = directory

    def path(self, *parts: str) -> Path:
        return self.directory.joinpath(*parts)

    def write(self, profile: str, name: str = "buildout.cfg") -> Path:
        target = self.directory / name
        target.write_text(textwrap.dedent(profile).lstrip("\n"))
        return target

    def run(
        self,
        profile: str | None = None,
        *args: str,
        subprocess: bool | None = None,
        config: str = "buildout.cfg",
    ) -> BuildoutResult:
        if profile is not None:
            self.write(profile, config)
        argv = ["-U", "-o", "-c", config, *args]
        if subprocess is None:
            # fork() with other threads running could deadlock the child.
            subprocess = not FORK_BY_DEFAULT or threading.active_count() > 1
        if subprocess:
            return self._run_subprocess(argv)
        return self._run_forked(argv)

    def _run_subprocess(self, argv: list[str]) -> BuildoutResult:
        env = dict(os.environ, HOME=str(self.directory))
        proc = _subprocess.run(
            [str(BUILDOUT_SCRIPT), *argv],
            cwd=self.directory,
            env=env,
            stdout=_subprocess.PIPE,
            stderr=_subprocess.STDOUT,
            text=True,
            timeout=RUN_TIMEOUT,
        )
        return BuildoutResult(proc.returncode, proc.stdout, self.directory)

    def _run_forked(self, argv: list[str], setup=None) -> BuildoutResult:
        return RunningBuildout(self.directory, argv, setup).wait()

    def start(self, *args: str, setup=None, config: str = "buildout.cfg") -> RunningBuildout:
        """A forked buildout left running (to be killed, or waited for).

        ``setup``, when given, is called in the child before buildout starts
        (to simulate faults by patching, e.g., ``os.fsync``)."""
        return RunningBuildout(self.directory, ["-U", "-o", "-c", config, *args], setup)

    def run_with(self, setup, *args: str) -> BuildoutResult:
        """Run buildout with ``setup`` called in the (forked) child first."""
        return self.start(*args, setup=setup).wait()


class RunningBuildout:
    def __init__(self, directory: Path, argv: list[str], setup=None):
        self.directory = directory
        self.output = tempfile.TemporaryFile()
        sys.stdout.flush()
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns
            _child(directory, argv, self.output.fileno(), setup)

    def wait_for_output(self, lines: int = 1, timeout: float = RUN_TIMEOUT) -> bool:
        """Wait until it printed ``lines`` lines; False if it exited first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            printed = os.pread(self.output.fileno(), 1 << 20, 0).count(b"\n")
            if printed >= lines:
                return True
            if os.waitpid(self.pid, os.WNOHANG) != (0, 0):
                self.pid = 0  # reaped
                return False
            time.sleep(0.0002)
        return False

    def kill(self) -> bool:
        """SIGKILL it; True if it was still running and had begun its work
        (printed its first line, which buildout does as it starts on a part):
        a real kill point. ``killed_output`` holds what it had printed."""
        if not self.pid:
            self.output.close()
            return False
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        _, status = os.waitpid(self.pid, 0)
        self.output.seek(0)
        self.killed_output = self.output.read().decode("utf-8", "replace")
        self.output.close()
        return os.WIFSIGNALED(status) and bool(self.killed_output.strip())

    def wait(self) -> BuildoutResult:
        _, status = os.waitpid(self.pid, 0)
        self.output.seek(0)
        text = self.output.read().decode("utf-8", "replace")
        self.output.close()
        return BuildoutResult(os.waitstatus_to_exitcode(status), text, self.directory)


def _child(directory: Path, argv: list[str], output_fd: int, setup=None) -> None:
    code = 70
    try:
        signal.alarm(RUN_TIMEOUT)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        sys.stdout = open(1, "w", buffering=1, closefd=False)
        sys.stderr = open(2, "w", buffering=1, closefd=False)
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        os.environ["HOME"] = str(directory)
        os.chdir(directory)
        if setup is not None:
            setup()
        try:
            zc.buildout.buildout.main(argv)
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 71
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def forget_run_state() -> None:
    """Clear what slapkit keeps for the length of one buildout process."""
    from slapkit.core.run_state import reset_run_state

    reset_run_state()


def snapshot(directory: Path) -> dict[str, tuple[int, int, int]]:
    """(inode, mtime_ns, mode) of every file and directory under ``directory``,
    buildout's own bookkeeping left out (also a sub-buildout's
    ``.installed-PART.cfg``)."""
    skip = {".installed.cfg", "bin", "develop-eggs", "eggs"}
    result = {}
    for root, dirs, files in os.walk(directory):
        rel_root = os.path.relpath(root, directory)
        if rel_root == ".":
            dirs[:] = [d for d in dirs if d not in skip]
            files = [
                f
                for f in files
                if f not in skip and not (f.startswith(".installed-") and f.endswith(".cfg"))
            ]
        for name in dirs + files:
            path = os.path.join(root, name)
            info = os.lstat(path)
            result[os.path.relpath(path, directory)] = (
                info.st_ino,
                info.st_mtime_ns,
                info.st_mode,
            )
    return result


def read_kept_json(path: Path) -> dict:
    """What slapkit keeps at ``path`` (a file of a partition's ``.slapkit``),
    read as slapkit reads it (authenticated)."""
    from slapkit.core.partition_state import read_kept_json as read

    return read(str(_buildout_directory_of(path)), str(path))


def keep_json(path: Path, value: dict) -> None:
    """Keep ``value`` at ``path`` as slapkit would (authenticated with the
    partition's salt): how a test makes a kept result that slapkit uses."""
    from slapkit.core.partition_state import keep_json as keep

    keep(str(_buildout_directory_of(path)), str(path), value)


def _buildout_directory_of(path: Path) -> Path:
    for parent in path.parents:
        if parent.name == ".slapkit":
            return parent.parent
    raise ValueError(f"{path} is not in a .slapkit directory")


def wait_until(condition, timeout: float = 30.0):
    """Poll ``condition`` until it is true or ``timeout`` seconds passed;
    return its last value (the caller asserts on it): how a test waits for
    an event, never by a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(0.02)
