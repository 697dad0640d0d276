"""The local runner against planted symlinks and FIFOs, a foreign supervisord,
partition paths supervisord misreads, undecodable output and forged lines."""

from __future__ import annotations

import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from xmlrpc.server import SimpleXMLRPCDispatcher, SimpleXMLRPCRequestHandler

import pytest

from buildout_harness import wait_until
from slapkit.runner.supervisor import Supervisor
from slapos_master import free_port
from test_runner import HELLO_WEB, SLAPKIT
from test_runner_hostile import profile, sleeper

PYTHON = sys.executable
NOBODY = 65534


def run(*args, env=None, timeout=90.0):
    """slapkit's command line; a hang is a failure (TimeoutExpired)."""
    return subprocess.run(
        [SLAPKIT, *map(str, args)],
        capture_output=True,
        text=True,
        errors="surrogateescape",
        timeout=timeout,
        env=env,
    )


def one_line_error(result, code):
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def partition(tmp_path):
    directory = tmp_path / "partition"
    yield directory
    try:
        Supervisor(directory).shutdown()
    except (OSError, RuntimeError):
        pass


# --- 1. planted symlinks and FIFOs ------------------------------------------------


def test_planted_symlinks_are_never_written_through(partition, tmp_path):
    """buildout's log, supervisord's log and pidfile, a program's log: each a
    symlink to a file outside; a deploy writes none of them."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (partition / ".slapkit").mkdir(parents=True, mode=0o700)
    planted = {}
    for name in (
        ".slapkit/buildout.log",
        ".slapkit/supervisord.log",
        ".slapkit/supervisord.pid",
        ".slappart0_web.log",
    ):
        target = outside / name.replace("/", "_")
        target.write_text("precious\n")
        (partition / name).symlink_to(target)
        planted[name] = target
    result = run("deploy", profile(tmp_path, sleeper("web", 60), "web"), "--partition", partition)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "services     1 started" in result.stdout
    for name, target in planted.items():
        assert target.read_text() == "precious\n", name
        assert not (partition / name).is_symlink(), name
    assert "Installing web" in (partition / ".slapkit" / "buildout.log").read_text()


def test_a_state_directory_that_is_a_symlink_is_refused(partition, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    partition.mkdir()
    (partition / ".slapkit").symlink_to(elsewhere)
    instance = profile(tmp_path, sleeper("web", 60), "web")
    error = one_line_error(run("deploy", instance, "--partition", partition), 2)
    assert ".slapkit" in error and "not a directory of this user's own" in error
    for command in ("status", "stop"):
        error = one_line_error(run(command, partition), 2)
        assert ".slapkit" in error and "not a directory of this user's own" in error
    assert list(elsewhere.iterdir()) == []
    assert not (partition / "buildout.cfg").exists()


def test_fifos_at_the_runners_files_never_hang_it(partition):
    port = free_port()
    state = partition / ".slapkit"
    state.mkdir(parents=True, mode=0o700)
    for name in (
        "buildout.log",
        "connection.json",
        "parameters.json",
        "instance.json",
        "supervisord.pid",
        "supervisord.log",
    ):
        os.mkfifo(state / name)
    os.mkfifo(partition / ".installed.cfg")
    result = run("deploy", HELLO_WEB, "--partition", partition, "-p", f"port={port}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "note         buildout's .installed.cfg" in result.stdout
    assert f"url = http://127.0.0.1:{port}/" in result.stdout
    assert "Installing directory" in (state / "buildout.log").read_text()
    assert run("status", partition).returncode == 0
    supervisord = Supervisor(partition).rpc().supervisor.getPID()
    (state / "supervisord.pid").unlink()
    os.mkfifo(state / "supervisord.pid")
    stopped = run("stop", partition)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert wait_until(lambda: not alive(supervisord))


def test_a_lock_file_hard_linked_elsewhere_is_never_written(partition, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (partition / ".slapkit").mkdir(parents=True, mode=0o700)
    os.link(victim, partition / ".slapkit" / "deploy.lock")
    instance = profile(tmp_path, sleeper("web", 60), "web")
    error = one_line_error(run("deploy", instance, "--partition", partition), 2)
    assert "deploy.lock" in error and "hard link" in error
    assert victim.read_text() == "precious\n"


def test_another_partitions_mark_in_a_value_makes_no_orphan(tmp_path):
    """Orphans are found by SLAPKIT_PARTITION=DIR, a whole entry of their
    environment: the same text inside another variable's value (a user's
    parameter) never gets a program of another partition stopped."""
    first, second = tmp_path / "p3", tmp_path / "p4"
    instance = tmp_path / "env.cfg"
    instance.write_text(
        "[buildout]\nparts = d web\n[d]\nrecipe = slapkit:mkdirectory\n"
        "s = ${buildout:directory}/etc/service\n"
        "[web]\nrecipe = slapkit:wrapper\ncommand-line = /bin/sleep 600\n"
        "wrapper-path = ${d:s}/web\n"
        f"environment = NOTE=SLAPKIT_PARTITION={second}\n"
    )
    try:
        assert run("deploy", instance, "--partition", first).returncode == 0
        other = tmp_path / "other.cfg"
        other.write_text("[buildout]\nparts =\n")
        result = run("deploy", other, "--partition", second)
        assert "stopped a program" not in result.stdout
        assert "RUNNING" in run("status", first).stdout
    finally:
        run("stop", first)
        run("stop", second)


def test_a_lock_file_that_is_a_fifo_is_one_clear_line(partition, tmp_path):
    (partition / ".slapkit").mkdir(parents=True, mode=0o700)
    os.mkfifo(partition / ".slapkit" / "deploy.lock")
    instance = profile(tmp_path, sleeper("web", 60), "web")
    error = one_line_error(run("deploy", instance, "--partition", partition), 2)
    assert "deploy.lock" in error and "not a regular file" in error


# --- 2. the supervisord the runner talks to ---------------------------------------


class UnixRequestHandler(SimpleXMLRPCRequestHandler):
    disable_nagle_algorithm = False  # a TCP option: not for a unix socket


class FakeSupervisord(socketserver.UnixStreamServer, SimpleXMLRPCDispatcher):
    """An XML-RPC server on a unix socket that says it is a running supervisord."""

    def __init__(self, path: Path):
        self.logRequests = False
        self.calls: list[str] = []
        SimpleXMLRPCDispatcher.__init__(self, allow_none=True, encoding=None)
        socketserver.UnixStreamServer.__init__(self, str(path), UnixRequestHandler)
        answers = {
            "getState": {"statename": "RUNNING", "statecode": 1},
            "getPID": 1,
            "getIdentification": "slapkit-slappart0",
            "reloadConfig": [[[], [], []]],
            "getAllProcessInfo": [],
            "startProcessGroup": [],
            "shutdown": True,
        }
        for name, answer in answers.items():
            self.register_function(self._answer(name, answer), f"supervisor.{name}")
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def _answer(self, name, answer):
        def call(*args):
            self.calls.append(name)
            return answer

        return call

    def stop(self):
        self.shutdown()
        self.server_close()


def test_a_supervisord_the_runner_did_not_start_is_never_driven(partition, tmp_path):
    (partition / ".slapkit").mkdir(parents=True, mode=0o700)
    fake = FakeSupervisord(Supervisor(partition).socket)
    try:
        instance = profile(tmp_path, sleeper("web", 60), "web")
        result = run("deploy", instance, "--partition", partition)
        error = one_line_error(result, 1)
        assert "not this partition's supervisord" in error
        assert "ok in" not in result.stdout
        for command in ("status", "stop"):
            error = one_line_error(run(command, partition), 1)
            assert "not this partition's supervisord" in error
        assert set(fake.calls) <= {"getState", "getPID"}, fake.calls
    finally:
        fake.stop()


@pytest.fixture
def shared_tmp():
    """A short directory like /tmp (the socket's path must stay short)."""
    path = Path(tempfile.mkdtemp(prefix="sk-"))
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_long_partitions_socket_is_in_a_private_directory(tmp_path, shared_tmp):
    shared = shared_tmp
    env = dict(os.environ, TMPDIR=str(shared))
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "partition"
    instance = profile(tmp_path, sleeper("web", 60), "web")
    try:
        result = run("deploy", instance, "--partition", deep, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        (socket,) = [path for path in shared.rglob("*") if path.is_socket()]
        private = socket.parent
        assert private.parent == shared
        info = private.lstat()
        assert info.st_uid == os.geteuid() and info.st_mode & 0o777 == 0o700
        assert run("status", deep, env=env).returncode == 0
    finally:
        run("stop", deep, env=env)
    # Another user made that directory first: refused, nothing put there.
    for path in private.iterdir():
        path.unlink()
    private.rmdir()
    private.mkdir(mode=0o777)
    private.chmod(0o777)
    os.chown(private, NOBODY, NOBODY)
    error = one_line_error(run("deploy", instance, "--partition", deep, env=env), 1)
    assert str(private) in error and "not a private directory of this user's" in error
    assert list(private.iterdir()) == []
    assert "not running" in run("status", deep, env=env).stdout


# --- 3. stop kills only this partition's supervisord --------------------------------


def test_stop_never_kills_a_process_the_pidfile_names_that_is_not_its_supervisord(partition):
    (partition / ".slapkit").mkdir(parents=True, mode=0o700)
    bystander = subprocess.Popen([PYTHON, "-c", "import time; time.sleep(120)"])
    try:
        (partition / ".slapkit" / "supervisord.pid").write_text(f"{bystander.pid}\n")
        note = Supervisor(partition).shutdown(timeout=0.5)
        with pytest.raises(subprocess.TimeoutExpired):
            bystander.wait(timeout=1.5)
        assert note is not None and f"pid {bystander.pid}" in note
        assert "not this partition's supervisord" in note
    finally:
        bystander.kill()
        bystander.wait()


def test_stop_stops_the_real_supervisord_whatever_the_pidfile_says(partition, tmp_path):
    run("deploy", profile(tmp_path, sleeper("web", 60), "web"), "--partition", partition)
    supervisord = Supervisor(partition).rpc().supervisor.getPID()
    bystander = subprocess.Popen([PYTHON, "-c", "import time; time.sleep(120)"])
    try:
        (partition / ".slapkit" / "supervisord.pid").write_text(f"{bystander.pid}\n")
        stopped = run("stop", partition, timeout=60)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert "stopped supervisord and its 1 program" in stopped.stdout
        assert wait_until(lambda: not alive(supervisord))
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


# --- 5. partition paths supervisord would read as comments ----------------------------


@pytest.mark.parametrize("name", ["a ;b", "a #b", "a\t;b", "a[b]", "a%b", "a\\b", 'a"b'])
def test_a_partition_path_supervisord_would_cut_is_refused_before_anything(tmp_path, name):
    where = tmp_path / name / "partition"
    error = one_line_error(run("deploy", HELLO_WEB, "--partition", where), 2)
    assert "--partition" in error and "supervisord" in error
    assert not (tmp_path / name).exists()


def test_a_partition_path_with_blanks_and_semicolons_is_served(tmp_path):
    """Blanks, and ';' and '#' that start no comment: supervisord reads them
    as they are (its include is not split at the blank)."""
    where = tmp_path / "a b;c#d" / "partition"
    try:
        result = run("deploy", profile(tmp_path, sleeper("web", 60), "web"), "--partition", where)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "services     1 started" in result.stdout
        (info,) = Supervisor(where).process_info()
        assert info["statename"] == "RUNNING"
    finally:
        run("stop", where)


# --- 6. output that is not UTF-8 ------------------------------------------------------

BAD_BYTES = """
[promise-directory]
recipe = slapkit:mkdirectory
promise = ${buildout:directory}/etc/promise

[bad-bytes]
recipe = slapkit:jinja2
output = ${promise-directory:promise}/bad-bytes
mode = 0750
inline =
  #!/bin/sh
  printf 'broken \\377 bytes\\n' >&2
  exit 1
"""


def test_a_promise_that_writes_invalid_utf8_is_a_failing_promise(partition, tmp_path):
    instance = profile(tmp_path, sleeper("web", 60) + BAD_BYTES, "web promise-directory bad-bytes")
    result = run("deploy", instance, "--partition", partition, "--promise-timeout", "0")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "  FAILING   bad-bytes: broken \ufffd bytes" in result.stdout.splitlines()
    status = run("status", partition)
    assert status.returncode == 1 and "Traceback" not in status.stdout + status.stderr
    assert "  FAILING   bad-bytes: broken \ufffd bytes" in status.stdout.splitlines()


# --- 7. forged lines and terminal escapes ---------------------------------------------

PUBLISHED = """
[slap-parameter]
recipe = slapkit:parameters
note = nothing

[publish]
recipe = slapkit:publish
note = ${slap-parameter:note}

[noisy]
recipe = slapkit:jinja2
output = ${directory:service}/noisy
mode = 0750
inline =
  #!/bin/sh
  printf 'before\\033[2Jafter\\n'
  exit 3
"""


def test_user_data_is_printed_with_control_characters_escaped(partition, tmp_path):
    instance = profile(tmp_path, PUBLISHED, "slap-parameter publish noisy")
    forged = "a\nfiles 99 changed\x1b[2J\u2028b"
    result = run("deploy", instance, "--partition", partition, "-p", f"note={forged}")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "\x1b" not in result.stdout and "\u2028" not in result.stdout
    assert "files 99 changed" not in [line.strip() for line in result.stdout.splitlines()]
    assert "  note = a\\nfiles 99 changed\\x1b[2J\\u2028b" in result.stdout.splitlines()
    assert "    | before\\x1b[2Jafter" in result.stdout.splitlines()
    status = run("status", partition)
    assert "\x1b" not in status.stdout
    assert "    | before\\x1b[2Jafter" in status.stdout.splitlines()


def test_a_software_type_with_line_breaks_forges_no_log_line(partition, tmp_path):
    instance = profile(tmp_path, "", "")
    result = run(
        "deploy",
        instance,
        "--partition",
        partition,
        "--software-type",
        "zz\nfiles 99 changed\x1b[2J",
    )
    error = one_line_error(result, 2)
    assert "--software-type 'zz\\nfiles 99 changed\\x1b[2J'" in error
    log = partition / ".slapkit" / "buildout.log"
    assert not log.exists() or "\nfiles 99 changed" not in log.read_text()
