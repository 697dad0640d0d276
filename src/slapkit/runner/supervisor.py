"""supervisord for one partition, configured the way slapgrid configures it.

Every executable of ``etc/run`` and ``etc/service`` becomes
``[program:<partition-id>_<file>]`` with ``process_name=<file>`` (plus
``-on-watch`` for ``etc/service``, slapgrid's watchdog mark), with
slapgrid's settings: ``autostart=false`` (the runner starts them),
``autorestart=false`` (an exit is reported, not hidden), ``startsecs=0``,
``stopasgroup``/``killasgroup``, the log in ``.<program>.log``.

One difference: slapgrid wraps a partition's programs in one
``[group:<partition-id>]``; upstream supervisord then restarts the whole
group when one program changes. The runner leaves the group out, so that
supervisord's own update restarts only the programs that changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path

from slapkit.core.files import write_if_changed

WATCHDOG_MARK = "-on-watch"
STATE_DIR = ".slapkit"

PROGRAM_TEMPLATE = """\
[program:{program_id}]
directory={partition}
command={command}
process_name={process_name}
autostart=false
autorestart=false
startsecs=0
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
environment=USER="{user}",LOGNAME="{user}",HOME="{home}"
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
files = {state}/programs.conf
"""


@dataclass(frozen=True)
class Program:
    program_id: str  # slapgrid's [program:...] name
    process_name: str
    command: str
    watched: bool  # etc/service: an exit is a failure


def discover_programs(partition: Path, partition_id: str) -> list[Program]:
    """The programs slapgrid would make of ``etc/run`` and ``etc/service``."""
    programs = []
    for subdir, watched in (("run", False), ("service", True)):
        directory = partition / "etc" / subdir
        if not directory.is_dir():
            continue
        for name in sorted(os.listdir(directory)):
            programs.append(
                Program(
                    program_id=f"{partition_id}_{name}",
                    process_name=name + (WATCHDOG_MARK if watched else ""),
                    command=str(directory / name),
                    watched=watched,
                )
            )
    return programs


def programs_config(partition: Path, programs: list[Program]) -> str:
    user = os.environ.get("USER") or str(os.getuid())
    home = os.environ.get("HOME", str(partition))
    return "\n".join(
        PROGRAM_TEMPLATE.format(
            program_id=p.program_id,
            partition=partition,
            command=p.command,
            process_name=p.process_name,
            user=user,
            home=home,
        )
        for p in programs
    )


class Supervisor:
    """A real supervisord serving one partition, driven over its XML-RPC socket."""

    def __init__(self, partition: Path | str, partition_id: str = "slappart0"):
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
        return Path(tempfile.gettempdir()) / f"slapkit-{tag}.sock"

    def programs(self) -> list[Program]:
        return discover_programs(self.partition, self.partition_id)

    def write_config(self) -> bool:
        """Write supervisord's configuration; True when the programs changed."""
        self.state.mkdir(mode=0o700, exist_ok=True)
        write_if_changed(
            str(self.config_path),
            MAIN_TEMPLATE.format(
                partition=self.partition,
                partition_id=self.partition_id,
                state=self.state,
                socket=self.socket,
            ),
            0o600,
        )
        return write_if_changed(
            str(self.programs_path),
            programs_config(self.partition, self.programs()),
            0o600,
        )

    def rpc(self) -> xmlrpc.client.ServerProxy:
        from supervisor.xmlrpc import SupervisorTransport

        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        # The host part is ignored by the unix transport.
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def is_running(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return self.rpc().supervisor.getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Fault):
            return False

    def start(self, timeout: float = 20.0) -> None:
        """Start supervisord (it daemonizes) and wait until it answers."""
        self.write_config()
        subprocess.run(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.config_path)],
            check=True,
            cwd=self.partition,
        )
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
            server.startProcessGroup(name, False)

    def process_info(self) -> list[dict]:
        return self.rpc().supervisor.getAllProcessInfo()

    def shutdown(self, timeout: float = 70.0) -> None:
        """Stop every program, then supervisord; return once it has exited."""
        pid = self.supervisord_pid()
        if self.is_running():
            try:
                self.rpc().supervisor.shutdown()
            except (OSError, xmlrpc.client.Fault):
                pass
        if pid is None:
            return
        deadline = time.monotonic() + timeout
        while _alive(pid):
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                break
            time.sleep(0.05)

    def supervisord_pid(self) -> int | None:
        try:
            return int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None


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
