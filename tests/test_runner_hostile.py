"""The local runner against planted files, races, killed supervisords and bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slapkit.runner.supervisor import Supervisor
from slapos_master import free_port
from test_runner import HELLO_WEB, SLAPKIT, get, slapkit

PYTHON = sys.executable


@pytest.fixture
def partition(tmp_path):
    directory = tmp_path / "partition"
    yield directory
    Supervisor(directory).shutdown()


def profile(tmp_path, body: str, parts: str) -> Path:
    path = tmp_path / "instance.cfg"
    path.write_text(f"""
[buildout]
parts = directory {parts}

[directory]
recipe = slapkit:mkdirectory
etc = ${{buildout:directory}}/etc
service = ${{:etc}}/service
run = ${{:etc}}/run
{body}
""")
    return path


SLEEPER = """
[{name}]
recipe = slapkit:wrapper
command-line = {python} -c "import time; time.sleep({seconds})"
wrapper-path = ${{directory:{kind}}}/{name}
"""


def sleeper(name, seconds, kind="service"):
    return SLEEPER.format(name=name, python=PYTHON, seconds=seconds, kind=kind)


# --- 4. file names in etc/service and etc/run --------------------------------------


def test_files_supervisord_cannot_take_are_skipped_never_configured(partition, tmp_path):
    sentinel = partition / "PWNED"
    service = partition / "etc" / "service"
    service.mkdir(parents=True)
    planted = {
        "web]\n[program:evil]\ncommand=touch PWNED\n[x": True,
        "a b": True,
        "x%(ENV_HOME)s": True,
        ".other.abcd1234.tmp": True,
        "plain-data": False,
        ".web.abcd1234.tmp": True,  # a temporary of the web wrapper: removed by its part
    }
    for name, executable in planted.items():
        path = service / name
        path.write_text(f"#!/bin/sh\ntouch {sentinel}\n")
        path.chmod(0o750 if executable else 0o640)
    result = slapkit(
        "deploy",
        profile(tmp_path, sleeper("web", 60), "web"),
        "--partition",
        partition,
        "--promise-timeout",
        "0",
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    out = result.stdout
    assert "etc/service/'a b': not a name supervisord can take" in out
    assert "etc/service/'x%(ENV_HOME)s': not a name supervisord can take" in out
    assert "etc/service/'.other.abcd1234.tmp': a dot file (a temporary?) is never a program" in out
    assert not (service / ".web.abcd1234.tmp").exists()
    assert "etc/service/plain-data: not an executable file" in out
    assert "services     1 started" in out
    config = (partition / ".slapkit" / "programs.conf").read_text()
    assert "evil" not in config and "[program:slappart0_web]" in config
    # No program of supervisord's runs it (the configuration above): nothing
    # to wait for before looking.
    assert not sentinel.exists()


# --- 12. two deploys at once ------------------------------------------------------


def test_two_deploys_at_once_are_serialised(partition, tmp_path):
    instance = profile(tmp_path, sleeper("web", 60), "web")
    runs = [
        subprocess.Popen(
            [SLAPKIT, "deploy", str(instance), "--partition", str(partition)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=180) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, out + err
        assert "Traceback" not in out + err
    assert sum("waiting for another slapkit deploy" in out for out, _ in outputs) == 1
    started = [out.split("services     ")[1].split(" started")[0] for out, _ in outputs]
    assert sorted(started) == ["0", "1"]  # the second found it done
    supervisords = subprocess.run(
        ["pgrep", "-f", f"supervisord -c {partition}"], capture_output=True, text=True
    ).stdout.split()
    assert len(supervisords) == 1


# --- 13. judged by supervisord's own states ------------------------------------------


def test_a_service_that_dies_soon_and_a_one_shot_that_never_ran_are_failures(partition, tmp_path):
    body = (
        sleeper("dies-soon", 0.3)
        + """
[never-runs]
recipe = slapkit:jinja2
output = ${directory:run}/never-runs
mode = 0750
inline = #!/nonexistent/interpreter
"""
    )
    result = slapkit(
        "deploy",
        profile(tmp_path, body, "dies-soon never-runs"),
        "--partition",
        partition,
        "--promise-timeout",
        "0",
        check=False,
    )
    assert result.returncode == 1, result.stdout
    assert "FAILED    dies-soon-on-watch" in result.stdout
    assert "FAILED    never-runs" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("NOT OK")


def test_a_one_shot_that_ran_and_a_service_that_stays_are_fine(partition, tmp_path):
    body = sleeper("stays", 60) + sleeper("once", 0, kind="run")
    result = slapkit("deploy", profile(tmp_path, body, "stays once"), "--partition", partition)
    assert "services     2 started" in result.stdout
    assert "FAILED" not in result.stdout


# --- 14. a supervisord killed by hand ---------------------------------------------------


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for an init that may
    never reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_programs_a_killed_supervisord_left_are_stopped_by_the_next_deploy(partition):
    port = free_port()
    slapkit("deploy", HELLO_WEB, "--partition", partition, "-p", f"port={port}")
    supervisor = Supervisor(partition)
    (info,) = [p for p in supervisor.process_info() if p["name"].endswith("-on-watch")]
    orphan = info["pid"]
    supervisord = supervisor.supervisord_pid()
    os.kill(supervisord, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while running(supervisord) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(supervisord)
    assert running(orphan)  # still there, holding the port
    again = slapkit("deploy", HELLO_WEB, "--partition", partition, "-p", f"port={port}")
    assert f"stopped a program a killed supervisord left running: pid {orphan}" in again.stdout
    assert not running(orphan)
    assert "promises     2 kept, 0 failing" in again.stdout
    assert get(f"http://127.0.0.1:{port}/") == "Hello from slapkit!\n"


# --- 15. the error that stopped buildout -------------------------------------------------


def test_a_profile_parse_error_is_shown_without_a_traceback(partition, tmp_path):
    broken = tmp_path / "instance.cfg"
    broken.write_text("[buildout]\nparts = x\nthis line is not an option\n")
    result = slapkit("deploy", broken, "--partition", partition, check=False)
    assert result.returncode == 1
    assert "buildout     FAILED" in result.stdout
    assert "ParsingError" in result.stdout and "this line is not an option" in result.stdout
    assert "Traceback" not in result.stdout
    verbose = slapkit("deploy", broken, "--partition", partition, "-v", check=False)
    assert "Traceback (most recent call last):" in verbose.stdout


def test_a_user_error_is_shown_with_its_continuation_lines(partition, tmp_path):
    schema = tmp_path / "schema.json"
    schema.write_text(
        json.dumps({"properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}})
    )
    instance = tmp_path / "instance.cfg"
    instance.write_text(
        f"[buildout]\nparts = p\n[p]\nrecipe = slapkit:parameters\nschema = {schema}\n"
    )
    result = slapkit(
        "deploy", instance, "--partition", partition, "-p", "a=x", "-p", "b=y", check=False
    )
    assert "Error: [p] schema: 2 parameter errors:" in result.stdout
    assert "a: 'x' is not of type 'integer'" in result.stdout
    assert "b: 'y' is not of type 'integer'" in result.stdout


# --- CLI mistakes -------------------------------------------------------------------------


def test_cli_mistakes_are_one_line(partition, tmp_path):
    not_utf8 = tmp_path / "bad.json"
    not_utf8.write_bytes(b'{"a": "\xff"}')
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 5000 + "]" * 5000)
    bad_profile = tmp_path / "bad.cfg"
    bad_profile.write_bytes(b"[buildout]\nparts =\n# \xff\n")
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    cases = [
        (
            ["deploy", HELLO_WEB, "--partition", partition, "--parameters", not_utf8],
            "not UTF-8 text",
        ),
        (
            ["deploy", HELLO_WEB, "--partition", partition, "--parameters", deep],
            "nest deeper than 64",
        ),
        (["deploy", bad_profile, "--partition", partition], "is not UTF-8 text"),
        (["deploy", HELLO_WEB, "--partition", a_file], "exists and is not a directory"),
    ]
    for args, expected in cases:
        result = slapkit(*args, check=False)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert expected in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stdout + result.stderr


def test_a_supervisord_that_cannot_start_is_one_line(partition, tmp_path):
    (partition / ".slapkit" / "supervisord.sock").mkdir(parents=True)  # in the socket's way
    (partition / ".slapkit" / "supervisord.sock" / "x").write_text("")
    result = slapkit(
        "deploy",
        profile(tmp_path, sleeper("web", 60), "web"),
        "--partition",
        partition,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.startswith("slapkit: supervisord cannot start: ")
    assert "is in the way of its socket and is not a socket" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- more of supervisord ------------------------------------------------------------------


def test_a_partition_path_with_a_control_character_is_one_line(tmp_path):
    result = slapkit("deploy", HELLO_WEB, "--partition", tmp_path / "a\nb", check=False)
    assert result.returncode == 2
    assert "holds a control character" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "a\nb").exists()


def test_a_long_partition_path_gets_its_socket_elsewhere(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "partition"
    try:
        result = slapkit(
            "deploy", profile(tmp_path, sleeper("web", 60), "web"), "--partition", deep
        )
        assert "services     1 started" in result.stdout
        socket = Supervisor(deep).socket
        assert not str(socket).startswith(str(deep)) and socket.is_socket()
        assert slapkit("status", deep).returncode == 0
    finally:
        Supervisor(deep).shutdown()


def test_a_supervisord_that_exits_with_an_error_is_one_line(partition, tmp_path):
    (partition / ".slapkit" / "supervisord.log").mkdir(parents=True)  # its log cannot open
    result = slapkit(
        "deploy",
        profile(tmp_path, sleeper("web", 60), "web"),
        "--partition",
        partition,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith("slapkit: supervisord did not start: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_orphan_that_ignores_term_is_killed(partition):
    """What a killed supervisord left, found by its environment, stopped even
    when it traps TERM."""
    partition.mkdir()
    stubborn = subprocess.Popen(
        [
            PYTHON,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(60)",
        ],
        env=dict(os.environ, SLAPKIT_PARTITION=str(partition.resolve())),
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert stubborn.stdout.readline() == b"ready\n"
        stopped = Supervisor(partition).stop_orphans(timeout=0.5)
        assert stopped == [f"pid {stubborn.pid}: {PYTHON} -c " + stopped[0].split(" -c ", 1)[1]]
        assert stubborn.wait(timeout=10) == -signal.SIGKILL
    finally:
        stubborn.kill()
        stubborn.wait()
        stubborn.stdout.close()


def test_a_supervisord_fault_is_one_line(partition, tmp_path, monkeypatch, capsys):
    """An XML-RPC fault from supervisord (here made by hand: a real one needs
    a supervisord misbehaving) ends the command with one line, exit 1."""
    import xmlrpc.client

    from slapkit.runner import cli

    def refuse(self):
        raise xmlrpc.client.Fault(60, "SHUTDOWN_STATE")

    (partition / ".slapkit").mkdir(parents=True, mode=0o700)
    monkeypatch.setattr(Supervisor, "is_running", lambda self: True)
    monkeypatch.setattr(Supervisor, "process_info", refuse)
    assert cli.main(["stop", str(partition)]) == 1
    assert capsys.readouterr().err == "slapkit: supervisord refused: SHUTDOWN_STATE\n"


def test_status_reports_programs_failures_skipped_files_and_promises(partition, tmp_path):
    body = (
        sleeper("stays", 60)
        + sleeper("once", 0, kind="run")
        + """
[promise-directory]
recipe = slapkit:mkdirectory
promise = ${buildout:directory}/etc/promise

[missing]
recipe = slapkit:promise
promise-path = ${buildout:directory}/etc/promise/missing
path = ${buildout:directory}/never-there
"""
    )
    instance = profile(tmp_path, body, "stays once promise-directory missing")
    slapkit("deploy", instance, "--partition", partition, "--promise-timeout", "0", check=False)
    supervisor = Supervisor(partition)
    (stays,) = [i for i in supervisor.process_info() if i["name"] == "stays-on-watch"]
    os.kill(stays["pid"], signal.SIGKILL)
    (partition / "etc" / "service" / "a b").write_text("#!/bin/sh\n")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(
        i["name"] == "stays-on-watch" and i["statename"] == "RUNNING"
        for i in supervisor.process_info()
    ):
        time.sleep(0.05)
    status = slapkit("status", partition, check=False)
    assert status.returncode == 1
    lines = status.stdout.splitlines()
    assert any(line.split()[:3] == ["EXITED", "once", "exit"] for line in lines), lines
    assert any(line.split()[:2] == ["EXITED", "stays-on-watch"] for line in lines), lines
    assert any(line.startswith("  FAILED    stays-on-watch EXITED") for line in lines), lines
    assert "  SKIPPED   etc/service/'a b': not a name supervisord can take" in status.stdout
    assert f"  FAILING   missing: {partition.resolve()}/never-there does not exist" in lines
