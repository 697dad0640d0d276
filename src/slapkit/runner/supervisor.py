"""supervisord for one partition, configured the way slapgrid configures it.

Every executable of ``etc/run`` and ``etc/service`` becomes
``[program:<partition-id>_<file>]`` with ``process_name=<file>`` (plus
``-on-watch`` for ``etc/service``, slapgrid's watchdog mark), with
slapgrid's settings: ``autostart=false`` (the runner starts them),
``autorestart=false`` (an exit is reported, not hidden), ``startretries=0``,
``stopasgroup``/``killasgroup``, the log in ``.<program>.log``.

Differences from slapgrid: it wraps a partition's programs in one
``[group:<partition-id>]``, and upstream supervisord then restarts the
whole group when one program changes: the runner leaves the group out, so
that supervisord's own update restarts only the programs that changed. A
service counts as started once it stayed up ``startsecs`` (1 s; slapgrid
says 0), so one that dies at once is a failure, not "started". A file whose
name supervisord cannot take as it is, a dot file (a temporary) and a file
that is not executable are never programs: they are reported. Every
program's environment carries ``SLAPKIT_PARTITION``, so the runner finds
the programs a killed supervisord left behind.

The socket is ``.slapkit/supervisord.sock``, or, when that path is too long
for a unix socket, ``<tmp>/slapkit-<uid>/slapkit-<digest of the partition>.sock``,
in a directory only this user can write (checked, never trusted by name).
Whatever answers there is used only once proven to be this partition's
supervisord: a process of this user running supervisord on this partition's
configuration file. ``stop`` kills nothing else.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slapkit.core.files import read_regular_file, write_if_changed
from slapkit.core.partition_state import (
    STATE_DIR,
    is_program_name,
    owned_directory,
    state_directory,
)

WATCHDOG_MARK = "-on-watch"
# slapgrid names a partition's programs after its id; the runner has one partition.
PARTITION_ID = "slappart0"
PARTITION_VARIABLE = "SLAPKIT_PARTITION"
SERVICE_STARTSECS = 1

PROGRAM_TEMPLATE = """\
[program:{program_id}]
directory={partition}
command={command}
process_name={process_name}
autostart=false
autorestart=false
startsecs={startsecs}
startretries=0
exitcodes=0
stopsignal=TERM
stopwaitsecs=60
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile={partition}/.{program_id}.log
stdout_logfile_maxbytes=100KB
stdout_logfile_backups=1
environment=USER="{user}",LOGNAME="{user}",HOME="{home}",{marker}="{marker_value}"
"""

MAIN_TEMPLATE = """\
; Written by slapkit for {partition}; rewritten on every deploy.
[supervisord]
logfile={state}/supervisord.log
pidfile={state}/supervisord.pid
directory={partition}
childlogdir={state}
identifier=slapkit-{partition_id}

[unix_http_server]
file={socket}
chmod=0700

[supervisorctl]
serverurl=unix://{socket}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[include]
; relative to this file: supervisord splits this value on blanks and globs it
files = programs.conf
"""


@dataclass(frozen=True)
class Program:
    program_id: str  # slapgrid's [program:...] name
    process_name: str
    command: str
    watched: bool  # etc/service: an exit is a failure


def discover_programs(partition: Path, partition_id: str) -> tuple[list[Program], list[str]]:
    """The programs slapgrid would make of ``etc/run`` and ``etc/service``,
    and one line for each file there that cannot be a program."""
    programs, skipped = [], []
    for subdir, watched in (("run", False), ("service", True)):
        directory = partition / "etc" / subdir
        if not directory.is_dir():
            continue
        for name in sorted(os.listdir(directory)):
            path = directory / name
            if name.startswith("."):
                if not path.is_dir():
                    skipped.append(
                        f"etc/{subdir}/{name!r}: a dot file (a temporary?) is never a program"
                    )
                continue
            if not is_program_name(name):
                skipped.append(
                    f"etc/{subdir}/{name!r}: not a name supervisord can take "
                    "(letters, digits and _.+@- only)"
                )
                continue
            if not (path.is_file() and os.access(path, os.X_OK)):
                skipped.append(f"etc/{subdir}/{name}: not an executable file")
                continue
            programs.append(
                Program(
                    program_id=f"{partition_id}_{name}",
                    process_name=name + (WATCHDOG_MARK if watched else ""),
                    command=str(path),
                    watched=watched,
                )
            )
    return programs, skipped


# What supervisord's configuration cannot hold as it is: a blank before ";"
# or "#" starts a comment there, and a trailing blank is stripped.
_COMMENT = re.compile(r"\s[;#]")


def _value_problem(text: str) -> str | None:
    if _COMMENT.search(text):
        return "holds a blank before ';' or '#': supervisord's configuration reads a comment"
    if any(not char.isprintable() for char in text):
        return "holds a control character: supervisord's configuration cannot hold it"
    if text != text.rstrip():
        return "ends with a blank: supervisord's configuration drops it"
    return None


def config_path_problem(path: str) -> str | None:
    """Why ``path`` (a partition's) cannot stand in supervisord's
    configuration, or None. Its ``[include]`` (``.slapkit/programs.conf`` of
    the partition) is a glob pattern, too, and supervisord expands ``%`` in
    a program's log path twice."""
    if any(char in path for char in "*?["):
        return "holds '*', '?' or '[': supervisord reads its include as a pattern"
    if "%" in path:  # expanded once in some settings, twice in others
        return "holds '%': supervisord's configuration expands it"
    if any(char in path for char in '\\"'):  # supervisord's environment= undoes no escape
        return "holds '\\' or '\"': supervisord's environment setting cannot quote it"
    return _value_problem(path)


def _config_value(text: str) -> str:
    """A value for supervisord's configuration: ``%`` is its interpolation."""
    problem = _value_problem(text)
    if problem is not None:
        raise ValueError(f"{text!r} {problem}")
    return text.replace("%", "%%")


def _quoted_environment(text: str) -> str:
    return _config_value(text).replace("\\", "\\\\").replace('"', '\\"')


def programs_config(partition: Path, programs: list[Program]) -> str:
    user = _quoted_environment(os.environ.get("USER") or str(os.getuid()))
    home = _quoted_environment(os.environ.get("HOME", str(partition)))
    return "\n".join(
        PROGRAM_TEMPLATE.format(
            program_id=p.program_id,
            partition=_config_value(str(partition)),
            command=_config_value(shlex.quote(p.command)),
            process_name=p.process_name,
            startsecs=SERVICE_STARTSECS if p.watched else 0,
            user=user,
            home=home,
            marker=PARTITION_VARIABLE,
            marker_value=_quoted_environment(str(partition)),
        )
        for p in programs
    )


class Supervisor:
    """A real supervisord serving one partition, driven over its XML-RPC socket."""

    def __init__(self, partition: Path | str, partition_id: str = PARTITION_ID):
        self.partition = Path(partition).resolve()
        self.partition_id = partition_id
        self.state = self.partition / STATE_DIR
        self.config_path = self.state / "supervisord.conf"
        self.programs_path = self.state / "programs.conf"
        self.pid_path = self.state / "supervisord.pid"
        self.socket = self._socket_path()

    def _socket_path(self) -> Path:
        preferred = self.state / "supervisord.sock"
        if len(str(preferred)) < 100:  # AF_UNIX paths are limited to 108 bytes
            return preferred
        tag = hashlib.sha256(str(self.partition).encode()).hexdigest()[:16]
        return private_runtime_directory() / f"slapkit-{tag}.sock"

    def check_state(self) -> None:
        """Raise OSError when ``.slapkit`` is there and is not a directory of
        this user's own (a symlink: the runner's state would go elsewhere)."""
        if os.path.lexists(self.state) and not owned_directory(str(self.state)):
            raise OSError(
                errno.EPERM, "not a directory of this user's own: remove it", str(self.state)
            )

    def socket_directory_problem(self, create: bool = False) -> str | None:
        """Why the socket's directory is not one only this user can write
        (another user could make the socket first and answer the runner's
        calls), or None. ``create``: make the private directory when missing."""
        directory = self.socket.parent
        private = directory != self.state
        if create and private:
            try:
                os.mkdir(directory, 0o700)
            except FileExistsError:
                pass
        try:
            info = os.lstat(directory)
        except FileNotFoundError:
            return None if not create else f"{directory} is missing"
        # .slapkit is this user's (check_state); private directories are 0700.
        loose = stat.S_IMODE(info.st_mode) & (0o077 if private else 0o022)
        mode = stat.S_IMODE(info.st_mode)
        if not private and loose:  # .slapkit holds the partition's secrets: kept
            return f"{directory} is writable by other users (mode {mode:04o}): chmod go-w it"
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or loose:
            return (
                f"{directory} is not a private directory of this user's "
                f"(owner uid {info.st_uid}, mode {mode:04o}): remove it"
            )
        return None

    def programs(self) -> list[Program]:
        return discover_programs(self.partition, self.partition_id)[0]

    def skipped(self) -> list[str]:
        return discover_programs(self.partition, self.partition_id)[1]

    def write_config(self) -> bool:
        """Write supervisord's configuration; True when the programs changed."""
        state_directory(str(self.partition))
        try:
            problem = config_path_problem(str(self.partition))
            if problem is not None:
                raise ValueError(f"{str(self.partition)!r} {problem}")
            main = MAIN_TEMPLATE.format(
                partition=_config_value(str(self.partition)),
                partition_id=self.partition_id,
                state=_config_value(str(self.state)),
                socket=_config_value(str(self.socket)),
            )
            programs = programs_config(self.partition, self.programs())
        except ValueError as exc:
            raise RuntimeError(f"supervisord's configuration cannot be written: {exc}") from None
        write_if_changed(str(self.config_path), main, 0o600)
        return write_if_changed(str(self.programs_path), programs, 0o600)

    def rpc(self) -> Any:
        """supervisord's XML-RPC interface (its answers are plain data, untyped)."""
        from supervisor.xmlrpc import SupervisorTransport

        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        # The host part is ignored by the unix transport.
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def is_running(self) -> bool:
        """Whether this partition's supervisord answers on the socket.

        Raises RuntimeError when something else answers there: it is never
        driven (nor reported as this partition's supervisord)."""
        self.check_state()
        if self.socket_directory_problem() is not None:
            return False
        try:
            if not stat.S_ISSOCK(os.lstat(self.socket).st_mode):
                return False
        except OSError:
            return False
        try:
            server = self.rpc().supervisor
            if server.getState()["statename"] != "RUNNING":
                return False
            pid = server.getPID()
        except (OSError, xmlrpc.client.Error, http.client.HTTPException, KeyError, TypeError):
            return False
        if not self.is_own_supervisord(pid):
            raise RuntimeError(
                f"what answers on {self.socket} is not this partition's supervisord "
                f"(it says pid {pid!r}): not used; stop it and remove the socket"
            )
        return True

    def is_own_supervisord(self, pid: Any) -> bool:
        """Whether ``pid`` is a live process of this user's running supervisord
        on this partition's configuration file."""
        if type(pid) is not int or pid <= 0:
            return False
        try:
            if os.stat(f"/proc/{pid}").st_uid != os.geteuid():
                return False
            with open(f"/proc/{pid}/cmdline", "rb") as stream:
                arguments = stream.read().split(b"\0")
        except OSError:
            return False
        config = os.fsencode(str(self.config_path))
        runs_supervisord = any(
            os.path.basename(argument).endswith(b"supervisord") for argument in arguments[:3]
        )
        on_config = (b"-c", config) in zip(arguments, arguments[1:], strict=False)
        return runs_supervisord and on_config and _alive(pid)

    def start(self, timeout: float = 20.0) -> None:
        """Start supervisord (it daemonizes) and wait until it answers."""
        self.write_config()
        problem = self.socket_directory_problem(create=True)
        if problem is not None:
            raise RuntimeError(f"supervisord cannot start: {problem}")
        try:
            in_the_way = not stat.S_ISSOCK(os.lstat(self.socket).st_mode)
        except FileNotFoundError:
            in_the_way = False
        if in_the_way:
            # supervisord would try to unlink it, forever
            raise RuntimeError(
                f"supervisord cannot start: {self.socket} is in the way of "
                "its socket and is not a socket; remove it"
            )
        # supervisord opens these following symlinks (and blocks on a FIFO).
        _clear_planted(self.state / "supervisord.log", self.pid_path)
        # A file, not a pipe: the daemon keeps its descriptors, and reading a
        # pipe to its end would wait for supervisord to exit.
        with tempfile.TemporaryFile() as said:
            try:
                started = subprocess.run(
                    [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.config_path)],
                    cwd=self.partition,
                    stdin=subprocess.DEVNULL,
                    stdout=said,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                )
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"supervisord did not start within {timeout:.0f}s") from None
            if started.returncode != 0:
                said.seek(0)
                text = " ".join(said.read().decode(errors="replace").split())
                raise RuntimeError(f"supervisord did not start: {text or started.returncode}")
        deadline = time.monotonic() + timeout
        while not self.is_running():
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"supervisord did not answer on {self.socket} within {timeout:.0f}s"
                )
            time.sleep(0.05)

    def update(self) -> tuple[list[str], list[str], list[str]]:
        """Load the written configuration: (added, changed, removed) programs.

        Removed and changed programs are stopped and dropped; added and
        changed ones are loaded (and not started: see ``start_programs``).
        """
        server = self.rpc().supervisor
        added, changed, removed = server.reloadConfig()[0]
        for name in removed + changed:
            server.stopProcessGroup(name, True)
            server.removeProcessGroup(name)
        for name in changed + added:
            server.addProcessGroup(name)
        return sorted(added), sorted(changed), sorted(removed)

    def sync(self) -> tuple[list[str], list[str], list[str]]:
        """Make supervisord run what ``etc/`` holds now: start it if needed,
        load the configuration, start new and changed programs.

        Returns (added, changed, removed) program names; an unchanged
        partition gives three empty lists and restarts nothing.
        """
        self.write_config()
        if self.is_running():
            added, changed, removed = self.update()
        else:
            self.start()
            added, changed, removed = [p.program_id for p in self.programs()], [], []
        self.start_programs(added + changed)
        return added, changed, removed

    def start_programs(self, names: list[str]) -> None:
        server = self.rpc().supervisor
        for name in names:
            # supervisord appends to the log following a symlink planted there.
            _clear_planted(self.partition / f".{name}.log")
            server.startProcessGroup(name, False)

    def process_info(self) -> list[dict[str, Any]]:
        return list(self.rpc().supervisor.getAllProcessInfo())

    def settled_process_info(
        self, timeout: float = SERVICE_STARTSECS + 5.0
    ) -> list[dict[str, Any]]:
        """Process states once no program is STARTING or BACKOFF any more
        (a service is RUNNING only after it stayed up ``startsecs``)."""
        deadline = time.monotonic() + timeout
        while True:
            infos = self.process_info()
            if all(i["statename"] not in ("STARTING", "BACKOFF") for i in infos):
                return infos
            if time.monotonic() > deadline:
                return infos
            time.sleep(0.1)

    def stop_orphans(self, timeout: float = 10.0) -> list[str]:
        """Stop the programs a killed supervisord of this partition left running.

        They are found by the ``SLAPKIT_PARTITION`` their environment holds;
        each is a process group leader (supervisord made it so), and its
        whole group is stopped: TERM, then KILL after ``timeout``.
        Returns one line for each.
        """
        # A whole entry of the environment: the same text inside another
        # variable's value (a user's parameter) is not this partition's mark.
        marker = b"\0" + f"{PARTITION_VARIABLE}={self.partition}".encode() + b"\0"
        found = []
        for pid in _pids():
            try:
                if os.stat(f"/proc/{pid}").st_uid != os.geteuid():
                    continue  # another user's: never this partition's program
                with open(f"/proc/{pid}/environ", "rb") as stream:
                    if marker not in b"\0" + stream.read() + b"\0":
                        continue
                with open(f"/proc/{pid}/cmdline", "rb") as stream:
                    command = stream.read().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                continue  # gone, or not ours to read
            found.append((pid, command))
        for pid, _ in found:
            _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while any(_alive(pid) for pid, _ in found) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid, _ in found:
            if _alive(pid):
                _signal_group(pid, signal.SIGKILL)
        return [f"pid {pid}: {command[:120]}" for pid, command in found]

    def is_orphan(self, pid: int) -> bool:
        """Whether ``pid`` is a supervisord the runner started for this
        partition's path whose directory is gone: started as the runner
        starts it (``python -m supervisor.supervisord -c CONFIG``, nothing
        else), this user's, and working in a directory that was removed (a
        partition moved elsewhere, and still there, keeps its supervisord)."""
        if not self.is_own_supervisord(pid):
            return False
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as stream:
                arguments = stream.read().split(b"\0")
            directory = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            return False
        started = [b"-m", b"supervisor.supervisord", b"-c", os.fsencode(str(self.config_path))]
        # Its directory removed: this partition's path, or wherever the
        # partition was moved before it was removed.
        return arguments[1:] in (started, [*started, b""]) and directory.endswith(" (deleted)")

    def stop_orphan_supervisords(self, timeout: float = 70.0) -> list[str]:
        """Stop the supervisords of this partition whose directory was removed
        (the partition removed without ``slapkit stop``, then deployed again):
        see ``is_orphan``. TERM (it stops its programs first), KILL after
        ``timeout``. One line for each."""
        # The one answering on the socket too, when its directory is gone (a
        # socket outside the partition, for a long path, outlives it).
        orphans = [pid for pid in _pids() if self.is_orphan(pid)]
        for pid in orphans:
            _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while any(_alive(pid) for pid in orphans) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in orphans:
            if _alive(pid) and self.is_orphan(pid):  # not a new process with its pid
                _signal_group(pid, signal.SIGKILL)
        return [
            f"stopped a supervisord of this partition whose directory was removed while it "
            f"ran: pid {pid}"
            for pid in orphans
        ]

    def shutdown(self, timeout: float = 70.0) -> str | None:
        """Stop every program, then supervisord; return once it has exited.

        Only a process proven to be this partition's supervisord is waited
        for, and killed when it outlives ``timeout``: a pidfile naming any
        other process is reported (the returned note), never acted upon."""
        pid = None
        note = None
        if self.is_running():
            pid = self.rpc().supervisor.getPID()
            try:
                self.rpc().supervisor.shutdown()
            except (OSError, xmlrpc.client.Error, http.client.HTTPException):
                pass
        else:
            recorded = self.supervisord_pid()
            if recorded is not None and _alive(recorded):
                if self.is_own_supervisord(recorded):
                    pid = recorded  # this partition's, not answering: asked by signal
                    _signal(pid, signal.SIGTERM)
                else:
                    note = (
                        f"{self.pid_path} names pid {recorded}, which is not this "
                        "partition's supervisord: left alone"
                    )
        if pid is None:
            return note
        deadline = time.monotonic() + timeout
        while _alive(pid):
            if time.monotonic() > deadline:
                if self.is_own_supervisord(pid):  # not a new process of that pid
                    _signal(pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        return note

    def supervisord_pid(self) -> int | None:
        """The pid ``supervisord.pid`` names (a regular file of this user's
        ``.slapkit``: never a symlink followed, never a FIFO opened)."""
        if not owned_directory(str(self.state)):
            return None
        try:
            data = read_regular_file(str(self.pid_path))
            return int(data.strip()) if data is not None else None
        except (OSError, ValueError):
            return None


def private_runtime_directory() -> Path:
    """``<tmp>/slapkit-<uid>``: where sockets too long for the partition go
    (made 0700 and checked before any use: see ``socket_directory_problem``)."""
    return Path(tempfile.gettempdir()) / f"slapkit-{os.geteuid()}"


def _clear_planted(*paths: Path) -> None:
    """Remove what stands where a program will open a file to write it and
    is not a plain file of its own: a symlink, a FIFO, a device, a socket,
    a hard link to another file. A directory is left (the program then
    fails, and says so)."""
    for path in paths:
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(info.st_mode):
            continue
        if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except OSError:
        pass


def _pids() -> list[int]:
    try:
        return [
            int(name) for name in os.listdir("/proc") if name.isdigit() and int(name) != os.getpid()
        ]
    except OSError:
        return []


def _signal_group(pid: int, number: int) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, number)
        else:
            os.kill(pid, number)
    except OSError:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own exited child) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
