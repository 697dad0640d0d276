"""The local runner deploying examples/hello-web with real buildout and supervisord."""

import base64
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from slapkit.runner.supervisor import Supervisor
from slapos_master import free_port

SLAPKIT = str(Path(sys.executable).with_name("slapkit"))
HELLO_WEB = Path(__file__).parent.parent / "examples" / "hello-web" / "instance.cfg"


@pytest.fixture
def partition(tmp_path):
    directory = tmp_path / "partition"
    yield directory
    # Every process a test starts is stopped, also when it fails.
    Supervisor(directory).shutdown()


def slapkit(*args, check=True):
    result = subprocess.run([SLAPKIT, *map(str, args)], capture_output=True, text=True, timeout=180)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def get(url, auth=None):
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def service_pid(partition):
    (info,) = [p for p in Supervisor(partition).process_info() if p["name"].endswith("-on-watch")]
    assert info["statename"] == "RUNNING"
    return info["pid"]


def test_deploy_redeploy_change_and_stop(partition):
    port, other_port = free_port(), free_port()
    first = slapkit("deploy", HELLO_WEB, "--partition", partition, "-p", f"port={port}")
    assert "services     2 started, 0 restarted, 0 stopped" in first.stdout
    assert "promises     2 kept, 0 failing" in first.stdout
    assert f"url = http://127.0.0.1:{port}/" in first.stdout
    assert "[1] Installing directory" in first.stdout  # progress, a line per part
    assert get(f"http://127.0.0.1:{port}/") == "Hello from slapkit!\n"
    password = (partition / "srv" / "admin-password").read_text()
    assert get(f"http://127.0.0.1:{port}/admin", auth=f"admin:{password}") == "admin area\n"
    assert (partition / "var" / "first-run").exists()  # the one-shot ran
    pid = service_pid(partition)

    again = slapkit("deploy", HELLO_WEB, "--partition", partition, "-p", f"port={port}")
    assert "files        0 changed" in again.stdout
    assert "services     0 started, 0 restarted, 0 stopped" in again.stdout
    assert service_pid(partition) == pid

    # A buildout killed while it rewrote .installed.cfg leaves it empty, and
    # zc.buildout then fails on every run: the runner sets it aside, and
    # since the recipes look at the disk, nothing changes.
    (partition / ".installed.cfg").write_text("")
    recovered = slapkit("deploy", HELLO_WEB, "--partition", partition, "-p", f"port={port}")
    assert "note         buildout's .installed.cfg was cut short" in recovered.stdout
    assert "files        0 changed" in recovered.stdout
    assert "services     0 started, 0 restarted, 0 stopped" in recovered.stdout
    assert service_pid(partition) == pid
    assert (partition / "srv" / "admin-password").read_text() == password

    changed = slapkit("deploy", HELLO_WEB, "--partition", partition, "-p", f"port={other_port}")
    assert "services     0 started, 1 restarted, 0 stopped" in changed.stdout
    assert "restarted slappart0_hello-web-" in changed.stdout
    assert "promises     2 kept, 0 failing" in changed.stdout
    new_pid = service_pid(partition)
    assert new_pid != pid
    assert get(f"http://127.0.0.1:{other_port}/") == "Hello from slapkit!\n"
    assert (partition / "srv" / "admin-password").read_text() == password
    connection = json.loads((partition / ".slapkit" / "connection.json").read_text())
    assert connection["url"] == f"http://127.0.0.1:{other_port}/"

    status = slapkit("status", partition)
    assert "RUNNING" in status.stdout and "kept      hello-web-http" in status.stdout

    slapkit("stop", partition)
    for gone in (pid, new_pid):
        with pytest.raises(ProcessLookupError):
            os.kill(gone, 0)
    assert not Supervisor(partition).is_running()


def test_parameters_file_in_slapos_xml(partition, tmp_path):
    port = free_port()
    params = tmp_path / "parameters.xml"
    params.write_text(
        f'<instance><parameter id="port">{port}</parameter>'
        '<parameter id="greeting">Bonjour</parameter></instance>'
    )
    slapkit("deploy", HELLO_WEB, "--partition", partition, "--parameters", params)
    assert get(f"http://127.0.0.1:{port}/") == "Bonjour\n"


FAILING_PROFILE = """
[buildout]
parts = directory crash

[directory]
recipe = slapkit:mkdirectory
service = ${buildout:directory}/etc/service
promise = ${buildout:directory}/etc/promise

[crash]
recipe = slapkit:wrapper
command-line = /bin/sh -c "echo 'cannot open database' >&2; exit 3"
wrapper-path = ${directory:service}/crash

[missing]
recipe = slapkit:promise
promise-path = ${directory:promise}/missing
path = ${buildout:directory}/never-there
"""


def test_failed_service_and_failing_promise_are_shown_and_exit_nonzero(partition, tmp_path):
    profile = tmp_path / "instance.cfg"
    profile.write_text(
        FAILING_PROFILE.replace("parts = directory crash", "parts = directory crash missing")
    )
    result = slapkit(
        "deploy", profile, "--partition", partition, "--promise-timeout", "0.5", check=False
    )
    assert result.returncode == 1
    # it exited within supervisord's startsecs: FATAL, not "started"
    assert "FAILED    crash-on-watch FATAL: Exited too quickly" in result.stdout
    assert "| cannot open database" in result.stdout
    assert f"FAILING   missing: {partition}/never-there does not exist" in result.stdout
    assert result.stdout.rstrip().endswith("s") and "NOT OK" in result.stdout


def test_buildout_failure_is_reported_with_its_error(partition, tmp_path):
    profile = tmp_path / "instance.cfg"
    profile.write_text("[buildout]\nparts = d\n[d]\nrecipe = slapkit:mkdirectory\nmode = 0x9\n")
    result = slapkit("deploy", profile, "--partition", partition, check=False)
    assert result.returncode == 1
    assert "buildout     FAILED" in result.stdout
    assert "Error: [d] mode: '0x9' is not an octal file mode" in result.stdout


def test_runner_takes_any_executable_like_slapgrid(partition, tmp_path):
    """Not only slapkit wrappers: a script of another origin and a symlink
    to a binary in etc/service are programs too."""
    profile = tmp_path / "instance.cfg"
    profile.write_text(
        "[buildout]\nparts = d\n[d]\nrecipe = slapkit:mkdirectory\n"
        "service = ${buildout:directory}/etc/service\n"
    )
    slapkit("deploy", profile, "--partition", partition)
    sleeper = tmp_path / "sleeper"
    sleeper.write_text("#!/bin/sh\nexec sleep 60\n")
    sleeper.chmod(0o755)
    (partition / "etc" / "service" / "linked").symlink_to(sleeper)
    script = partition / "etc" / "service" / "script"
    script.write_text("#!/bin/sh\nexec sleep 61\n")
    script.chmod(0o750)
    result = slapkit("deploy", profile, "--partition", partition)
    assert "started   slappart0_linked" in result.stdout
    assert "started   slappart0_script" in result.stdout
    running = {info["name"]: info["statename"] for info in Supervisor(partition).process_info()}
    assert running == {"linked-on-watch": "RUNNING", "script-on-watch": "RUNNING"}


def test_bad_parameter_syntax(tmp_path):
    result = slapkit(
        "deploy", HELLO_WEB, "--partition", tmp_path / "p", "-p", "novalue", check=False
    )
    assert result.returncode == 2
    assert "-p 'novalue': expected NAME=VALUE" in result.stderr


ONESHOT = """
[buildout]
parts = dirs job {more_parts}

[dirs]
recipe = slapkit:mkdirectory
run = ${{buildout:directory}}/etc/run
service = ${{buildout:directory}}/etc/service
promise = ${{buildout:directory}}/etc/promise

[job]
recipe = slapkit:wrapper
command-line = /bin/sh -c {command}
wrapper-path = ${{dirs:run}}/make-key
{more}
"""


def oneshot_profile(tmp_path, command, more_parts="", more=""):
    profile = tmp_path / "instance.cfg"
    profile.write_text(ONESHOT.format(command=command, more_parts=more_parts, more=more))
    return profile


@pytest.mark.parametrize(
    "command",
    [
        "'echo generating ssl key >&2; exit 4'",
        "'echo generating ssl key >&2; sleep 1; exit 4'",
    ],
)
def test_a_one_shot_that_fails_fails_the_deploy(tmp_path, partition, command):
    profile = oneshot_profile(tmp_path, command)
    result = slapkit("deploy", profile, "--partition", partition, check=False)
    assert result.returncode == 1, result.stdout
    assert "  FAILED    make-key EXITED (exit 4)" in result.stdout
    assert "    | generating ssl key" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("NOT OK")
    # Counted once: started, then started again by the runner as slapgrid would.
    assert "services     1 started, 0 restarted, 0 stopped" in result.stdout


def test_a_one_shot_still_running_at_the_bound_is_said_to_be_running(tmp_path, partition):
    profile = oneshot_profile(tmp_path, "'sleep 30'")
    result = slapkit("deploy", profile, "--partition", partition, "--oneshot-timeout", "1")
    assert (
        "note         make-key (a one-shot) still running after 1 s: its result is not known "
        "yet (slapkit status tells it later)" in result.stdout
    )
    assert "FAILED" not in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("ok")


def test_a_one_shot_that_succeeds_after_a_while_is_ok(tmp_path, partition):
    profile = oneshot_profile(tmp_path, "'sleep 1; touch ${buildout:directory}/done'")
    result = slapkit("deploy", profile, "--partition", partition)
    assert (partition / "done").exists()  # waited for: it had ended when deploy said ok
    assert "still running" not in result.stdout


def test_a_failing_service_is_counted_once(tmp_path, partition):
    more = (
        "\n[web]\nrecipe = slapkit:wrapper\ncommand-line = /bin/sh -c 'exit 3'\n"
        "wrapper-path = ${dirs:service}/web\n"
    )
    profile = oneshot_profile(tmp_path, "'exit 0'", more_parts="web", more=more)
    result = slapkit("deploy", profile, "--partition", partition, check=False)
    assert result.returncode == 1
    assert "services     2 started, 0 restarted, 0 stopped" in result.stdout
    assert result.stdout.count("  started   slappart0_web") == 1
    assert result.stdout.count("  FAILED    web-on-watch") == 1
    # Changed, failing again: one restart, one line.
    profile.write_text(profile.read_text().replace("exit 3", "exit 5"))
    result = slapkit("deploy", profile, "--partition", partition, check=False)
    assert "services     0 started, 1 restarted, 0 stopped" in result.stdout
    assert result.stdout.count("  restarted slappart0_web") == 1


def promise_profile(tmp_path, service_command, port):
    more = (
        "\n[web]\nrecipe = slapkit:wrapper\n"
        f"command-line = {service_command}\nwrapper-path = ${{dirs:service}}/web\n"
        "\n[listening]\nrecipe = slapkit:promise\n"
        f"promise-path = ${{dirs:promise}}/listening\nport = {port}\n"
    )
    return oneshot_profile(tmp_path, "'exit 0'", more_parts="web listening", more=more)


def test_a_promise_waited_for_is_named_with_the_time_left(tmp_path, partition):
    profile = promise_profile(tmp_path, "/bin/sleep 600", free_port())
    result = slapkit(
        "deploy", profile, "--partition", partition, "--promise-timeout", "2", check=False
    )
    assert result.returncode == 1
    assert "promises: waiting for listening (2 s left): " in result.stdout
    assert "  FAILING   listening: " in result.stdout


def test_no_promise_is_waited_for_when_nothing_runs_that_could_keep_it(tmp_path, partition):
    profile = promise_profile(tmp_path, "/bin/sh -c 'exit 3'", free_port())
    result = slapkit(
        "deploy", profile, "--partition", partition, "--promise-timeout", "30", check=False
    )
    assert result.returncode == 1
    assert "FAILED    web-on-watch" in result.stdout
    assert "  FAILING   listening: " in result.stdout
    assert "promises: waiting for" not in result.stdout
    assert "promises: not waited for: no program of the partition runs to keep them" in (
        result.stdout
    )


def test_status_and_stop_on_a_directory_that_is_no_partition_are_errors(tmp_path):
    """``slapkit stop partiton`` (a typo) said "not running" and exited 0
    while the real partition ran on."""
    for where in (tmp_path / "nosuch", tmp_path):
        for command in ("stop", "status"):
            result = slapkit(command, where, check=False)
            assert result.returncode == 2, result.stdout + result.stderr
            assert result.stderr.strip() == (
                f"slapkit: {where}: not a partition slapkit deploy made (no .slapkit in it)"
            )
            assert result.stdout == ""


def test_version_and_python_dash_m():
    import slapkit as package

    for command in ([SLAPKIT], [sys.executable, "-m", "slapkit"]):
        result = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=60)
        assert (result.returncode, result.stdout) == (0, f"slapkit {package.__version__}\n")


def test_status_and_stop_default_to_the_partition_deploy_uses(tmp_path):
    """``slapkit deploy`` defaults to ./partition: so do status and stop."""
    profile = oneshot_profile(tmp_path, "'exit 0'")
    run = {"cwd": tmp_path, "capture_output": True, "text": True, "timeout": 180}
    try:
        deployed = subprocess.run([SLAPKIT, "deploy", profile], **run)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        status = subprocess.run([SLAPKIT, "status"], **run)
        assert status.stdout.startswith(f"partition    {tmp_path / 'partition'}\n"), status.stdout
        stopped = subprocess.run([SLAPKIT, "stop"], **run)
        assert stopped.stdout.startswith(f"{tmp_path / 'partition'}: stopped supervisord")
    finally:
        Supervisor(tmp_path / "partition").shutdown()
