"""The runner's command line as a user meets it, through the real CLI: the
partition remembers the last request as a master does; Ctrl-C is one line."""

import json

import pytest

from slapkit.runner.supervisor import Supervisor
from test_runner import SLAPKIT as SLAPKIT_COMMAND
from test_runner import slapkit


def interruptible() -> None:
    """In the child: Ctrl-C as in a terminal. A test run in the background
    of a shell without job control (a CI script's `cmd &`) inherits SIGINT
    ignored, and Python then never raises KeyboardInterrupt."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(autouse=True)
def _no_supervisord_left(tmp_path):
    """Every supervisord a test of this file started is stopped after it,
    whatever partition it used under tmp_path, also when the test fails."""
    yield
    for state in tmp_path.glob("**/.slapkit"):
        if state.is_dir() and not state.is_symlink():
            Supervisor(state.parent).shutdown()


@pytest.fixture
def stopped_after(tmp_path):
    """A partition directory whose programs are stopped after the test."""
    directory = tmp_path / "partition"
    yield directory
    Supervisor(directory).shutdown()


PROFILE = """
[buildout]
parts = seen

[slap-parameter]
recipe = slapkit:parameters
port = 8080
greeting = hello

[seen]
recipe = slapkit:jinja2
output = ${buildout:directory}/seen
inline = {{ port }}|{{ greeting }}
context =
  key port slap-parameter:port
  key greeting slap-parameter:greeting
"""


def seen(partition) -> dict:
    port, greeting = (partition / "seen").read_text().strip().split("|")
    return {"port": port, "greeting": greeting}


def write_profile(tmp_path, name="instance.cfg"):
    profile = tmp_path / name
    profile.write_text(PROFILE)
    return profile


def test_a_rerun_without_parameters_deploys_the_same_instance(tmp_path):
    partition = tmp_path / "partition"
    profile = write_profile(tmp_path)
    slapkit("deploy", profile, "--partition", partition, "-p", "port=8081")
    assert seen(partition) == {"port": "8081", "greeting": "hello"}

    again = slapkit("deploy", "--partition", partition)
    assert seen(partition) == {"port": "8081", "greeting": "hello"}
    assert f"slapkit deploy {profile} -> {partition}" in again.stdout
    assert "parameters   \n  port = 8081\n" in again.stdout
    assert "files        0 changed" in again.stdout

    # -p changes that one, the others stay
    slapkit("deploy", "--partition", partition, "-p", "greeting=hi")
    assert seen(partition) == {"port": "8081", "greeting": "hi"}

    # an empty value removes it: the profile's default again
    slapkit("deploy", "--partition", partition, "-p", "port=")
    assert seen(partition) == {"port": "8080", "greeting": "hi"}

    # --parameters replaces the whole set
    parameters = tmp_path / "parameters.json"
    parameters.write_text('{"port": "9000"}')
    slapkit("deploy", "--partition", partition, "--parameters", parameters)
    assert seen(partition) == {"port": "9000", "greeting": "hello"}

    status = slapkit("status", partition)
    assert "parameters   \n  port = 9000\n" in status.stdout
    assert f"profile      {profile}\ntype         default\n" in status.stdout
    reset = slapkit("deploy", "--partition", partition, "--reset")
    assert "parameters   (none: the profile's defaults)" in reset.stdout
    assert seen(partition) == {"port": "8080", "greeting": "hello"}


def test_the_software_type_and_profile_are_remembered_and_replaced_when_given(tmp_path):
    partition = tmp_path / "partition"
    first = write_profile(tmp_path)
    slapkit("deploy", first, "--partition", partition, "--software-type", "special")
    again = slapkit("deploy", "--partition", partition)
    assert "type         special" in again.stdout
    other = write_profile(tmp_path, "other.cfg")
    moved = slapkit("deploy", other, "--partition", partition)
    assert f"profile      {other}" in moved.stdout
    assert "type         special" in moved.stdout
    assert f"profile      {other}" in slapkit("deploy", "--partition", partition).stdout
    reset = slapkit("deploy", "--partition", partition, "--reset")
    assert "type         default" in reset.stdout
    assert f"profile      {other}" in reset.stdout  # the profile is kept


def test_no_profile_and_nothing_remembered_is_a_clear_error(tmp_path):
    result = slapkit("deploy", "--partition", tmp_path / "partition", check=False)
    assert result.returncode == 2
    assert "no profile given, and none was deployed in this partition before" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_edited_request_is_not_used_and_said_so(tmp_path):
    partition = tmp_path / "partition"
    profile = write_profile(tmp_path)
    slapkit("deploy", profile, "--partition", partition, "-p", "port=8081")
    request = partition / ".slapkit" / "request.json"
    request.write_text(request.read_text().replace("8081", "6666"))
    result = slapkit("deploy", profile, "--partition", partition)
    assert "is not a request slapkit kept (edited, planted or cut short): not used" in result.stdout
    assert seen(partition)["port"] == "8080"
    # and the request is kept anew: the next run uses it silently
    assert "not used" not in slapkit("deploy", "--partition", partition).stdout


def test_a_planted_request_cannot_name_another_profile(tmp_path):
    partition = tmp_path / "partition"
    profile = write_profile(tmp_path)
    slapkit("deploy", profile, "--partition", partition)
    evil = tmp_path / "evil.cfg"
    evil.write_text("[buildout]\nparts =\n")
    request = partition / ".slapkit" / "request.json"
    request.write_text(
        json.dumps({"profile": str(evil), "software_type": "default", "parameters": {}})
    )
    result = slapkit("deploy", "--partition", partition, check=False)
    assert result.returncode == 2
    assert "not used" in result.stderr
    assert "no profile given" in result.stderr
    assert str(evil) not in result.stdout + result.stderr


def test_a_profile_that_cannot_be_read_is_not_remembered(tmp_path):
    partition = tmp_path / "partition"
    profile = write_profile(tmp_path)
    slapkit("deploy", profile, "--partition", partition)
    missing = slapkit("deploy", tmp_path / "nosuch.cfg", "--partition", partition, check=False)
    assert missing.returncode == 2
    assert f"profile      {profile}" in slapkit("deploy", "--partition", partition).stdout


def test_status_shows_the_request_and_parameters_hold_hostile_text_as_data(tmp_path):
    partition = tmp_path / "partition"
    profile = write_profile(tmp_path)
    hostile = "x\x1b[2J\nfiles        99 changed"
    slapkit("deploy", profile, "--partition", partition, "-p", f"greeting={hostile}")
    again = slapkit("deploy", "--partition", partition)
    assert "files        99 changed" not in again.stdout.splitlines()
    assert "\x1b" not in again.stdout
    assert "greeting = x\\x1b[2J\\nfiles        99 changed" in again.stdout


def test_ctrl_c_is_one_line_saying_what_still_runs_and_exits_130(tmp_path):
    import signal
    import subprocess
    import time

    from test_runner import SLAPKIT, oneshot_profile

    partition = tmp_path / "partition"
    profile = oneshot_profile(tmp_path, "'sleep 30'")
    process = subprocess.Popen(
        [SLAPKIT, "deploy", str(profile), "--partition", str(partition)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 120
        for line in process.stdout:
            if "one-shots: waiting for" in line:
                break
            assert time.monotonic() < deadline
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 130
        assert stderr.strip() == (
            f"slapkit: deploy interrupted; supervisord still runs for {partition}, with 1 "
            "program (slapkit status); slapkit deploy again finishes the job"
        )
        status = slapkit("status", partition, check=False)
        assert status.returncode == 1
        assert "was interrupted: the request shown is not applied yet" in status.stdout
        assert status.stdout.endswith("NOT OK\n")
    finally:
        process.kill()
        slapkit("stop", partition, check=False)


def test_status_shows_connection_values_and_logs_shows_a_programs_output(tmp_path):
    import signal
    import subprocess
    import threading

    from slapos_master import free_port
    from test_runner import HELLO_WEB, SLAPKIT

    partition = tmp_path / "partition"
    port = free_port()
    try:
        slapkit("deploy", HELLO_WEB, "--partition", partition, "-p", f"port={port}")
        status = slapkit("status", partition)
        assert "\nconnection   \n" in status.stdout
        assert status.stdout.endswith(f"\n  url = http://127.0.0.1:{port}/\nok\n")

        # the wsgiref server logs each request on stderr, which supervisord keeps
        logs = sorted(partition.glob(".slappart0_hello-web*.log"))
        assert logs, sorted(p.name for p in partition.iterdir())
        with open(logs[0], "a") as log:
            log.write("one\ntwo\nthree\n")
        last = slapkit("logs", "hello-web", "--partition", partition, "-n", "2")
        assert last.stdout == "two\nthree\n"
        everything = slapkit("logs", "--partition", partition)
        assert "hello-web-on-watch | three" not in everything.stdout  # names are programs'
        assert any(line.endswith(" | three") for line in everything.stdout.splitlines())
        assert "Installing" in slapkit("logs", "buildout", "--partition", partition).stdout

        unknown = slapkit("logs", "nosuch", "--partition", partition, check=False)
        assert unknown.returncode == 2
        assert "no log of a program 'nosuch' in" in unknown.stderr
        assert "buildout" in unknown.stderr and "hello-web" in unknown.stderr

        negative = slapkit("logs", "--partition", partition, "-n", "-3", check=False)
        assert negative.returncode == 2 and "expected a number of lines" in negative.stderr

        follow = subprocess.Popen(
            [SLAPKIT, "logs", "hello-web", "--partition", str(partition), "-n", "0", "-f"],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=interruptible,
        )
        # It starts at the log's end, at a moment the test cannot see: append
        # until a line arrives (the process is killed at the deadline, which
        # ends readline).
        stop = threading.Event()
        watchdog = threading.Timer(60, follow.kill)

        def append() -> None:
            while not stop.is_set():
                with open(logs[0], "a") as log:
                    log.write("appended \x1b[31mred\n")
                stop.wait(0.2)

        writer = threading.Thread(target=append)
        watchdog.start()
        writer.start()
        try:
            assert follow.stdout is not None
            assert follow.stdout.readline() == "appended \\x1b[31mred\n"
            follow.send_signal(signal.SIGINT)
            assert follow.wait(timeout=30) == 0
        finally:
            stop.set()
            writer.join()
            watchdog.cancel()
            follow.kill()
    finally:
        slapkit("stop", partition, check=False)


def test_logs_never_read_through_a_planted_link_or_a_fifo(tmp_path):
    import os

    partition = tmp_path / "partition"
    slapkit("deploy", write_profile(tmp_path), "--partition", partition)
    secret = tmp_path / "secret"
    secret.write_text("the secret\n")
    (partition / ".slappart0_evil.log").symlink_to(secret)
    os.mkfifo(partition / ".slappart0_pipe.log")
    result = slapkit("logs", "--partition", partition)
    assert "the secret" not in result.stdout
    assert f"evil: {partition}/.slappart0_evil.log is not a regular file" in result.stdout
    assert slapkit("logs", "pipe", "--partition", partition).stdout == (
        f"pipe: {partition}/.slappart0_pipe.log is not a regular file (a link, a FIFO): not read\n"
    )
    slapkit("stop", partition)


def test_logs_buildout_is_buildouts_own_and_a_program_so_named_is_apart(tmp_path):
    partition = tmp_path / "partition"
    slapkit("deploy", write_profile(tmp_path), "--partition", partition)
    slapkit("stop", partition)
    (partition / ".slappart0_buildout.log").write_text("a program named buildout\n")
    own = slapkit("logs", "buildout", "--partition", partition).stdout
    assert "Installing seen." in own and "a program named buildout" not in own
    program = slapkit("logs", "slappart0_buildout", "--partition", partition).stdout
    assert program == "a program named buildout\n"


def test_logs_show_a_hashed_wrappers_latest_version_only(tmp_path):
    import os

    partition = tmp_path / "partition"
    slapkit("deploy", write_profile(tmp_path), "--partition", partition)
    slapkit("stop", partition)
    old = partition / ".slappart0_web-0123456789abcdef.log"
    new = partition / ".slappart0_web-fedcba9876543210.log"
    old.write_text("Address already in use (an earlier version)\n")
    new.write_text("serving\n")
    os.utime(old, (1_000_000, 1_000_000))
    assert slapkit("logs", "web", "--partition", partition).stdout == "serving\n"
    assert "earlier version" not in slapkit("logs", "--partition", partition).stdout


def test_logs_follow_a_rotated_and_a_truncated_log_without_losing_a_line(tmp_path):
    import subprocess
    import threading

    partition = tmp_path / "partition"
    slapkit("deploy", write_profile(tmp_path), "--partition", partition)
    slapkit("stop", partition)
    log = partition / ".slappart0_app.log"
    log.write_text("")
    follow = subprocess.Popen(
        [SLAPKIT_COMMAND, "logs", "app", "--partition", str(partition), "-n", "0", "-f"],
        stdout=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, follow.kill)
    watchdog.start()
    try:
        assert follow.stdout is not None
        # Until a line arrives, the follower may not have started: write marks.
        started = threading.Event()

        def mark() -> None:
            while not started.is_set():
                with open(log, "a") as stream:
                    stream.write("mark\n")
                started.wait(0.2)

        marker = threading.Thread(target=mark)
        marker.start()
        try:
            assert follow.stdout.readline() == "mark\n"
        finally:
            started.set()
            marker.join()
        with open(log, "a") as stream:
            stream.write("before rotation\n")
        log.rename(partition / ".slappart0_app.log.1")
        log.write_text("after rotation\n")
        seen = []
        while "after rotation\n" not in seen:
            seen.append(follow.stdout.readline())
            assert seen[-1], seen
        assert [line for line in seen if line != "mark\n"] == [
            "before rotation\n",
            "after rotation\n",
        ]
        # Cut short (as tail -f, a log cut short and written past its old end
        # within one poll looks appended to: this one stays shorter).
        log.write_text("short\n")
        assert follow.stdout.readline() == "short\n"
    finally:
        watchdog.cancel()
        follow.kill()
        follow.wait()


def test_quiet_says_only_the_problems_and_the_result(tmp_path, stopped_after):
    partition = stopped_after
    from test_runner import oneshot_profile

    good = slapkit("deploy", write_profile(tmp_path), "--partition", partition, "-q")
    assert len(good.stdout.splitlines()) == 1 and good.stdout.startswith("ok in ")
    assert good.stderr == ""
    failing = oneshot_profile(tmp_path, "'echo no key >&2; exit 4'")
    bad = slapkit("deploy", failing, "--partition", partition, "-q", check=False)
    assert bad.returncode == 1
    lines = bad.stdout.splitlines()
    assert lines[0] == "  FAILED    make-key EXITED (exit 4)"
    assert "    | no key" in lines
    assert "    (its whole log: slapkit logs make-key)" in lines
    assert lines[-1].startswith("NOT OK in ")
    assert not any(line.startswith(("files", "services", "promises", "[")) for line in lines)
    assert slapkit("logs", "make-key", "--partition", partition).stdout.startswith("no key")


def test_json_is_one_versioned_document_for_deploy_and_status(tmp_path, stopped_after):
    partition = stopped_after
    hostile = "x\x1b[2J\nok in 0.1s"
    result = slapkit(
        "deploy",
        write_profile(tmp_path),
        "--partition",
        partition,
        "--json",
        "-p",
        f"greeting={hostile}",
    )
    assert "\x1b" not in result.stdout
    document = json.loads(result.stdout)
    assert document["format"] == "slapkit-deploy" and document["version"] == 1
    assert document["ok"] is True
    assert document["request"]["parameters"] == {"greeting": hostile}
    assert document["request"]["software_type"] == "default"
    assert document["buildout"]["ok"] is True and document["buildout"]["error"] == ""
    assert any("seen" in line for line in document["files_changed"])
    assert document["services"] == {
        "started": [],
        "restarted": [],
        "stopped": [],
        "failed": [],
        "skipped": [],
    }
    assert document["promises"] == [] and document["connection"] == {}

    status = json.loads(slapkit("status", partition, "--json").stdout)
    assert status["format"] == "slapkit-status" and status["version"] == 1
    assert status["running"] is True and status["ok"] is True
    assert status["request"]["parameters"] == {"greeting": hostile}
    slapkit("stop", partition)
    stopped = slapkit("status", partition, "--json", check=False)
    assert stopped.returncode == 3
    assert json.loads(stopped.stdout)["running"] is False


def test_json_and_quiet_together_are_refused(tmp_path):
    result = slapkit("deploy", write_profile(tmp_path), "-q", "--json", check=False)
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr


def test_an_unknown_option_prints_the_subcommands_usage_and_help_has_examples(tmp_path):
    result = slapkit("status", tmp_path, "--bogus", check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: slapkit status")
    assert "slapkit status: error: unrecognized arguments: --bogus" in result.stderr
    for command in ("deploy", "status", "stop", "logs", "migrate"):
        help_text = slapkit(command, "--help").stdout
        assert f"examples:\n  slapkit {command}" in help_text, command


def test_a_near_miss_of_a_watched_directory_holding_executables_is_noted(tmp_path):
    profile = tmp_path / "instance.cfg"
    profile.write_text(
        "[buildout]\nparts = d web tool\n"
        "[d]\nrecipe = slapkit:mkdirectory\n"
        "services = ${buildout:directory}/etc/services\nbin = ${buildout:directory}/etc/runner\n"
        "[web]\nrecipe = slapkit:wrapper\ncommand-line = /bin/true\n"
        "wrapper-path = ${d:services}/web\n"
        "[tool]\nrecipe = slapkit:wrapper\ncommand-line = /bin/true\n"
        "wrapper-path = ${d:bin}/tool\n"
    )
    partition = tmp_path / "partition"
    result = slapkit("deploy", profile, "--partition", partition)
    notes = [line for line in result.stdout.splitlines() if line.startswith("note")]
    assert notes == [
        "note         etc/services holds 1 executable(s), but slapgrid and slapkit only run "
        "those of etc/service: a typo?"
    ]
    slapkit("stop", partition)


def test_a_supervisord_left_by_a_removed_partition_is_stopped(tmp_path):
    import os
    import shutil
    import time

    from test_runner import oneshot_profile

    partition = tmp_path / "partition"
    profile = oneshot_profile(tmp_path, "'sleep 300'")
    slapkit("deploy", profile, "--partition", partition, "--oneshot-timeout", "0")
    old = int((partition / ".slapkit" / "supervisord.pid").read_text())
    os.kill(old, 0)
    shutil.rmtree(partition)  # removed without slapkit stop: its supervisord runs on
    try:
        again = slapkit("deploy", profile, "--partition", partition, "--oneshot-timeout", "0")
        assert (
            "note         stopped a supervisord of this partition whose directory was removed "
            f"while it ran: pid {old}"
        ) in again.stdout
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(old, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"supervisord {old} still runs")
    finally:
        slapkit("stop", partition, check=False)


def test_without_the_runner_extra_the_command_says_what_to_install(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    import slapkit

    source = Path(slapkit.__file__).parent.parent
    # -S: no site-packages, so neither zc.buildout nor supervisor is there,
    # as after a bare `pip install slapkit`.
    bare = [sys.executable, "-S", "-m", "slapkit"]
    environment = {"PYTHONPATH": str(source), "PATH": "/usr/bin:/bin"}
    for arguments in (["migrate", "--help"], ["status"], ["deploy", "x.cfg"]):
        result = subprocess.run(
            [*bare, *arguments], capture_output=True, text=True, env=environment, timeout=60
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr == (
            "slapkit: the slapkit command needs zc.buildout and supervisor, which slapkit's "
            "runner extra installs: pip install 'slapkit[runner]'\n"
        )
    version = subprocess.run(
        [*bare, "--version"], capture_output=True, text=True, env=environment, timeout=60
    )
    assert version.returncode == 0 and version.stdout.startswith("slapkit ")


def test_parameters_no_part_reads_are_named(tmp_path):
    partition = tmp_path / "partition"
    profile = write_profile(tmp_path)
    result = slapkit("deploy", profile, "--partition", partition, "-p", "prot=8081", "-p", "port=1")
    notes = [line for line in result.stdout.splitlines() if line.startswith("note")]
    assert notes == [
        "note         parameters no part read: 'prot' (a typo? read by this profile: 'port')"
    ]
    # and again on every rerun (zc.buildout's comparison of a part's options
    # with its record read them all)
    again = slapkit("deploy", "--partition", partition, "-p", "prto=2")
    notes = [line for line in again.stdout.splitlines() if line.startswith("note")]
    assert notes == [
        "note         parameters no part read: 'prot', 'prto' (a typo? read by this "
        "profile: 'port')"
    ]
    quiet = slapkit("deploy", "--partition", partition, "-p", "prot=", "-p", "prto=")
    assert "note" not in quiet.stdout

    # The tutorial's mistake: the section holds defaults, and no recipe.
    plain = tmp_path / "plain.cfg"
    plain.write_text(PROFILE.replace("recipe = slapkit:parameters\n", ""))
    result = slapkit("deploy", plain, "--partition", tmp_path / "other", "-p", "port=9")
    assert (
        "note         no part reads the instance parameters ('port'): a [slap-parameter] section "
        "needs recipe = slapkit:parameters (or use slapkit:slapconfiguration)"
    ) in result.stdout


def test_parameters_a_template_reads_whole_are_all_read(tmp_path):
    profile = tmp_path / "instance.cfg"
    profile.write_text(
        "[buildout]\nparts = seen\n"
        "[slap-parameter]\nrecipe = slapkit:parameters\nport = 1\n"
        "[seen]\nrecipe = slapkit:jinja2\noutput = ${buildout:directory}/seen\n"
        "inline = {{ p['port'] }} {{ p.get('anything', '') }}\n"
        "context = section p slap-parameter\n"
    )
    result = slapkit("deploy", profile, "--partition", tmp_path / "p", "-p", "anything=x")
    assert "note" not in result.stdout
    assert (tmp_path / "p" / "seen").read_text().strip() == "1 x"


def test_the_runner_turns_the_extension_on_an_unchanged_rerun_writes_no_record(tmp_path):
    partition = tmp_path / "partition"
    profile = write_profile(tmp_path)
    slapkit("deploy", profile, "--partition", partition)
    record = partition / ".installed.cfg"
    before = record.stat().st_mtime_ns, record.stat().st_ino
    slapkit("deploy", "--partition", partition)
    assert (record.stat().st_mtime_ns, record.stat().st_ino) == before
    slapkit("stop", partition)


def test_a_port_promise_kept_by_another_process_is_failing_and_names_it(tmp_path, stopped_after):
    import os
    import socket
    import sys

    from test_runner import promise_profile

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        service = f"{sys.executable} -m http.server --bind 127.0.0.1 {port}"
        profile = promise_profile(tmp_path, service, port)
        result = slapkit("deploy", profile, "--partition", stopped_after, check=False)
        assert result.returncode == 1
        assert "FAILED    web-on-watch" in result.stdout
        failing = [line for line in result.stdout.splitlines() if "FAILING   listening" in line]
        with open("/proc/self/cmdline", "rb") as stream:
            command = stream.read().replace(b"\0", b" ").decode().strip()[:120]
        assert failing == [
            f"  FAILING   listening: port {port} is held by another process, not this "
            f"partition's: pid {os.getpid()}: {command}"
        ]
        status = slapkit("status", stopped_after, check=False)
        assert status.returncode == 1
        assert f"listening: port {port} is held by another process" in status.stdout
    finally:
        holder.close()


def test_verbose_shows_buildouts_own_output_live(tmp_path):
    partition = tmp_path / "partition"
    result = slapkit("deploy", write_profile(tmp_path), "--partition", partition, "-v")
    lines = result.stdout.splitlines()
    assert "Installing seen." in lines
    assert f"seen: created {partition}/seen" in lines
    assert not any(line.startswith("[1] ") for line in lines)
    assert "files        1 changed" in lines  # the changes are still counted
    slapkit("stop", partition)


def test_a_partition_file_the_runner_cannot_write_is_exit_status_2(tmp_path):
    partition = tmp_path / "partition"
    profile = write_profile(tmp_path)
    slapkit("deploy", profile, "--partition", partition)
    slapkit("stop", partition)
    (partition / "buildout.cfg").unlink()
    (partition / "buildout.cfg").mkdir()  # in the way: cannot be written
    result = slapkit("deploy", "--partition", partition, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("slapkit: ")
    assert "buildout.cfg" in result.stderr and "Traceback" not in result.stderr


SWITCHED_ROOT = """
[buildout]
parts = switch-softwaretype
[slap-configuration]
recipe = slapkit:slapconfiguration
[profiles]
default = {typed}
[switch-softwaretype]
recipe = slapkit:switch-softwaretype
default = profiles:default
"""

SWITCHED_TYPE = """
[buildout]
parts = seen
[seen]
recipe = slapkit:jinja2
output = ${buildout:directory}/seen
inline = {{ port }}
context = key port slap-configuration:configuration.port
"""


def test_parameters_no_part_reads_are_named_through_switch_softwaretype(tmp_path):
    typed = tmp_path / "default.cfg"
    typed.write_text(SWITCHED_TYPE)
    root = tmp_path / "instance.cfg"
    root.write_text(SWITCHED_ROOT.format(typed=typed))
    partition = tmp_path / "partition"
    for _ in range(2):
        result = slapkit(
            "deploy", root, "--partition", partition, "-p", "port=1", "-p", "rm-size=2"
        )
        assert (partition / "seen").read_text().strip() == "1"
        assert (
            "note         parameters no part read: 'rm-size' (a typo? read by this profile: "
            "'port')" in result.stdout
        )
    slapkit("stop", partition)


def test_a_misspelled_option_is_reported_on_every_run(tmp_path):
    profile = tmp_path / "instance.cfg"
    text = "[buildout]\nparts = w\n[w]\nrecipe = slapkit:mkdirectory\nmdoe = 0700\n"
    profile.write_text(text)
    partition = tmp_path / "partition"
    first = slapkit("deploy", profile, "--partition", partition, check=False)
    assert "'0700' is not an absolute path" in first.stdout  # refused, see mkdirectory
    profile.write_text(
        "[buildout]\nparts = w\n[w]\nrecipe = slapkit:wrapper\ncommand-line = /bin/true\n"
        "wrapper-path = ${buildout:directory}/w\n"
    )
    slapkit("deploy", profile, "--partition", partition)
    profile.write_text(profile.read_text() + "parameter-extra = true\n")
    for _ in range(2):
        rerun = slapkit("deploy", "--partition", partition)
        assert "warning      [w] unused option(s): 'parameter-extra'" in rerun.stdout
    slapkit("stop", partition)


def test_stop_never_kills_a_process_that_only_names_the_partitions_configuration(tmp_path):
    import subprocess
    import sys

    partition = tmp_path / "partition"
    slapkit("deploy", write_profile(tmp_path), "--partition", partition)
    config = partition / ".slapkit" / "supervisord.conf"
    mimic = subprocess.Popen(
        [sys.executable, "-", "supervisord", "-c", str(config)],
        stdin=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert mimic.stdin is not None
        mimic.stdin.write(b"import time\ntime.sleep(120)\n")
        mimic.stdin.close()
        stopped = slapkit("stop", partition)
        assert "note" not in stopped.stdout
        assert mimic.poll() is None  # still running
    finally:
        mimic.kill()
        mimic.wait()


def test_a_service_with_an_environment_of_its_own_keeps_its_port_promise(tmp_path, stopped_after):
    import sys

    from slapos_master import free_port
    from test_runner import promise_profile

    port = free_port()
    service = f"env -i {sys.executable} -m http.server --bind 127.0.0.1 {port}"
    result = slapkit(
        "deploy", promise_profile(tmp_path, service, port), "--partition", stopped_after
    )
    assert "  kept      listening" in result.stdout.splitlines()


def test_the_port_holder_is_looked_up_on_the_promises_own_address(tmp_path, stopped_after):
    import socket
    import sys

    from test_runner import promise_profile

    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        # The partition's service listens on [::1]:port; another process holds
        # 127.0.0.1:port, which the promise checks.
        service = f"{sys.executable} -m http.server --bind ::1 {port}"
        result = slapkit(
            "deploy",
            promise_profile(tmp_path, service, port),
            "--partition",
            stopped_after,
            check=False,
        )
        assert result.returncode == 1
        assert f"FAILING   listening: port {port} is held by another process" in result.stdout
    finally:
        holder.close()


def test_huge_logs_and_planted_huge_files_are_not_read_whole(tmp_path):
    import subprocess
    import sys

    partition = tmp_path / "partition"
    slapkit("deploy", write_profile(tmp_path), "--partition", partition)
    slapkit("stop", partition)
    big = partition / ".slappart0_big.log"
    with open(big, "wb") as log:
        log.truncate(2 * 1024**3)  # sparse: 2 GiB that cost no disk
        log.seek(0, 2)
        log.write(b"\nlast but one\nlast\n")
    with open(partition / ".slapkit" / "request.json", "r+b") as planted:
        planted.truncate(2 * 1024**3)
    command = [str(SLAPKIT_COMMAND), "logs", "big", "--partition", str(partition), "-n", "2"]
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import resource, subprocess, sys;"
            "subprocess.run(sys.argv[1:], check=True);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
            *command,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    *lines, peak_kib = result.stdout.splitlines()
    assert lines == ["last but one", "last"]
    assert int(peak_kib) < 300 * 1024  # far below the 2 GiB
    status = subprocess.run(
        [
            sys.executable,
            "-c",
            "import resource, subprocess, sys;"
            "subprocess.run(sys.argv[1:]);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
            str(SLAPKIT_COMMAND),
            "status",
            str(partition),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "is not a request slapkit kept" in status.stdout
    assert int(status.stdout.splitlines()[-1]) < 300 * 1024


def test_two_deploys_waiting_for_each_other_both_keep_their_parameter(tmp_path):
    import fcntl
    import subprocess
    import time

    partition = tmp_path / "partition"
    slapkit("deploy", write_profile(tmp_path), "--partition", partition)
    lock = open(partition / ".slapkit" / "deploy.lock", "a+")
    fcntl.flock(lock, fcntl.LOCK_EX)  # a deploy that runs meanwhile
    waiting = []
    try:
        for assignment in ("port=3", "greeting=hi"):
            process = subprocess.Popen(
                [SLAPKIT_COMMAND, "deploy", "--partition", str(partition), "-p", assignment],
                stdout=subprocess.PIPE,
                text=True,
            )
            waiting.append(process)
            assert process.stdout is not None
            deadline = time.monotonic() + 60
            while "waiting for another slapkit deploy" not in process.stdout.readline():
                assert time.monotonic() < deadline
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
    for process in waiting:
        process.communicate(timeout=120)
        assert process.returncode == 0
    status = slapkit("status", partition).stdout
    assert "parameters   \n  greeting = hi\n  port = 3\n" in status
    slapkit("stop", partition)


def test_status_says_when_the_last_deploy_failed(tmp_path):
    partition = tmp_path / "partition"
    profile = write_profile(tmp_path)
    slapkit("deploy", profile, "--partition", partition)
    assert slapkit("status", partition, "-q").stdout == "ok\n"
    broken = tmp_path / "broken.cfg"
    broken.write_text("[buildout\n")
    assert slapkit("deploy", broken, "--partition", partition, check=False).returncode == 1
    status = slapkit("status", "--partition", partition, check=False)
    assert status.returncode == 1
    assert "failed in buildout: the request shown is not applied" in status.stdout
    assert json.loads(slapkit("status", partition, "--json", check=False).stdout)["ok"] is False
    slapkit("deploy", profile, "--partition", partition)
    assert slapkit("status", partition).returncode == 0
    slapkit("stop", "--partition", partition)


def test_json_on_a_failure_before_any_deploy_is_still_a_document(tmp_path):
    parameters = tmp_path / "nan.json"
    parameters.write_text('{"name": NaN, "big": 1e999}')
    result = slapkit(
        "deploy",
        write_profile(tmp_path),
        "--partition",
        tmp_path / "p",
        "--json",
        "--parameters",
        parameters,
        check=False,
    )
    assert result.returncode == 2
    assert "NaN is not a JSON value" in result.stderr
    document = json.loads(result.stdout)
    assert document["format"] == "slapkit-deploy" and document["ok"] is False
    assert "NaN is not a JSON value" in document["error"]
    parameters.write_text('{"big": 1e999}')
    big = slapkit("deploy", write_profile(tmp_path), "--parameters", parameters, check=False)
    assert big.returncode == 2 and "1e999 is too big" in big.stderr


def test_a_closed_pipe_is_no_error(tmp_path):
    import subprocess

    partition = tmp_path / "partition"
    slapkit("deploy", write_profile(tmp_path), "--partition", partition)
    # more than a pipe holds, so that the writer meets the closed pipe
    (partition / ".slappart0_big.log").write_text("".join(f"{n}\n" for n in range(200_000)))
    try:
        pipeline = subprocess.run(
            f"{SLAPKIT_COMMAND} logs big -n 200000 --partition {partition} | head -1",
            shell=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert pipeline.stderr == "" and len(pipeline.stdout.splitlines()) == 1
    finally:
        slapkit("stop", partition)


def test_a_write_only_parameter_is_never_shown_back(tmp_path):
    schema = tmp_path / "schema.json"
    schema.write_text(
        json.dumps(
            {
                "type": "object",
                "properties": {"admin-password": {"type": "string", "writeOnly": True}},
            }
        )
    )
    profile = tmp_path / "instance.cfg"
    profile.write_text(
        "[buildout]\nparts = seen\n"
        f"[slap-parameter]\nrecipe = slapkit:parameters\nschema = {schema}\nport = 1\n"
        "[seen]\nrecipe = slapkit:jinja2\noutput = ${buildout:directory}/seen\nmode = 0600\n"
        "inline = {{ p }}\ncontext = key p slap-parameter:admin-password\n"
    )
    partition = tmp_path / "partition"
    first = slapkit(
        "deploy", profile, "--partition", partition, "-p", "admin-password=TopSecret123"
    )
    assert (partition / "seen").read_text().strip() == "TopSecret123"  # it reached the part
    status = slapkit("status", partition)
    as_json = slapkit("status", partition, "--json")
    again = slapkit("deploy", "--partition", partition, "--json")
    for output in (first.stdout, status.stdout, as_json.stdout, again.stdout):
        assert "TopSecret123" not in output
    assert "  admin-password = (a secret: not shown)" in status.stdout
    slapkit("stop", partition)


def test_a_write_only_value_a_failed_check_refused_is_not_shown_either(tmp_path):
    schema = tmp_path / "schema.json"
    schema.write_text(
        json.dumps(
            {
                "type": "object",
                "properties": {
                    "password": {"type": "string", "writeOnly": True},
                    "ram": {"type": "integer"},
                },
            }
        )
    )
    profile = tmp_path / "instance.cfg"
    profile.write_text(
        f"[buildout]\nparts = p\n[slap-parameter]\nrecipe = slapkit:parameters\nschema = {schema}\n"
        "ram = 1\n[p]\nrecipe = slapkit:jinja2\noutput = ${buildout:directory}/p\n"
        "inline = {{ r }}\ncontext = key r slap-parameter:ram\n"
    )
    partition = tmp_path / "partition"
    first = slapkit(
        "deploy",
        profile,
        "--partition",
        partition,
        "-p",
        "password=Leaked1",
        "-p",
        "ram=x",
        "--json",
        check=False,
    )
    assert first.returncode == 1
    status = slapkit("status", partition, check=False)
    for output in (first.stdout, first.stderr, status.stdout):
        assert "Leaked1" not in output


def test_a_port_promise_on_the_unspecified_address_is_checked_on_the_loopback(
    tmp_path, stopped_after
):
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    profile = tmp_path / "instance.cfg"
    profile.write_text(
        "[buildout]\nparts = d p\n[d]\nrecipe = slapkit:mkdirectory\n"
        "promise = ${buildout:directory}/etc/promise\n"
        "[p]\nrecipe = slapkit:promise\npromise-path = ${d:promise}/port\n"
        f"host = 0.0.0.0\nport = {port}\n"
    )
    try:
        result = slapkit("deploy", profile, "--partition", stopped_after, check=False)
        assert result.returncode == 1
        assert f"FAILING   port: port {port} is held by another process" in result.stdout
    finally:
        holder.close()


def test_a_supervisord_of_a_partition_moved_then_removed_is_stopped(tmp_path):
    import os
    import shutil

    from test_runner import oneshot_profile

    partition = tmp_path / "partition"
    profile = oneshot_profile(tmp_path, "'sleep 300'")
    slapkit("deploy", profile, "--partition", partition, "--oneshot-timeout", "0")
    old = int((partition / ".slapkit" / "supervisord.pid").read_text())
    (tmp_path / "trash").mkdir()
    partition.rename(tmp_path / "trash" / "partition")
    shutil.rmtree(tmp_path / "trash")
    again = slapkit("deploy", profile, "--partition", partition, "--oneshot-timeout", "0")
    assert f"whose directory was removed while it ran: pid {old}" in again.stdout
    assert slapkit("status", partition, check=False).returncode in (0, 1)
    slapkit("stop", partition)
    try:
        os.kill(old, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive or open(f"/proc/{old}/stat").read().split(") ", 1)[1][0] == "Z"


def test_a_planted_state_link_is_never_read_through(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "buildout.log").write_text("someone else's\n")
    partition = tmp_path / "partition"
    partition.mkdir()
    (partition / ".slapkit").symlink_to(elsewhere)
    for command in (["logs", "buildout", "--partition"], ["status"], ["stop"]):
        result = slapkit(*command, partition, check=False)
        assert result.returncode == 2
        assert "not a directory of this user's own (a symlink?)" in result.stderr
        assert "someone else's" not in result.stdout


def test_an_old_record_of_a_good_deploy_put_back_does_not_make_status_ok(tmp_path):
    partition = tmp_path / "partition"
    slapkit("deploy", write_profile(tmp_path), "--partition", partition)
    record = partition / ".slapkit" / "last-deploy.json"
    saved = record.read_bytes()
    broken = tmp_path / "broken.cfg"
    broken.write_text("[buildout\n")
    slapkit("deploy", broken, "--partition", partition, check=False)
    record.write_bytes(saved)
    status = slapkit("status", partition, check=False)
    assert status.returncode == 1
    assert "no record of how the deploy of the request shown ended" in status.stdout


SOFTWARE_RELEASE_PROFILE = """
[buildout]
parts = directory service

[directory]
recipe = slapkit:mkdirectory
service = ${buildout:directory}/etc/service

[service]
recipe = slapkit:wrapper
command-line = sleep 600
wrapper-path = ${buildout:directory}/etc/service/sleeper
hash-files = ${buildout:directory}/software_release/buildout.cfg
"""


def test_software_release_is_linked_as_slapgrid_links_it_and_remembered(tmp_path):
    partition = tmp_path / "partition"
    profile = tmp_path / "instance.cfg"
    profile.write_text(SOFTWARE_RELEASE_PROFILE)
    link = partition / "software_release"

    first = slapkit("deploy", profile, "--partition", partition)
    assert "services     1 started" in first.stdout
    assert link.is_symlink()
    assert link.resolve() == (partition / ".slapkit" / "software-release").resolve()
    assert f"extends = {profile.resolve().as_uri()}\n" in (link / "buildout.cfg").read_text()

    # A software release of one's own: its buildout.cfg changed, the service restarts.
    release = tmp_path / "release"
    release.mkdir()
    (release / "buildout.cfg").write_text("[buildout]\nextends = software.cfg\n")
    moved = slapkit("deploy", "--partition", partition, "--software-release", release)
    assert "1 restarted" in moved.stdout, moved.stdout
    assert str(link.readlink()) == str(release.resolve())
    again = slapkit("deploy", "--partition", partition)  # remembered, also through --reset
    assert "0 started, 0 restarted" in again.stdout, again.stdout
    assert f"software     {release.resolve()}" in slapkit("status", partition).stdout
    slapkit("deploy", "--partition", partition, "--reset")
    assert str(link.readlink()) == str(release.resolve())

    missing = slapkit(
        "deploy", "--partition", partition, "--software-release", tmp_path / "nosuch", check=False
    )
    assert missing.returncode == 2
    assert f"--software-release {tmp_path / 'nosuch'}: not a directory" in missing.stderr


def test_software_release_replaces_a_planted_link_and_never_removes_a_directory(tmp_path):
    partition = tmp_path / "partition"
    profile = write_profile(tmp_path)
    partition.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (partition / "software_release").symlink_to(elsewhere)
    slapkit("deploy", profile, "--partition", partition)
    assert (partition / "software_release").resolve() != elsewhere
    assert list(elsewhere.iterdir()) == []

    (partition / "software_release").unlink()
    (partition / "software_release").mkdir()
    (partition / "software_release" / "data").write_text("mine")
    refused = slapkit("deploy", "--partition", partition, check=False)
    assert refused.returncode == 2
    assert f"{partition / 'software_release'} is not a symbolic link" in refused.stderr
    assert (partition / "software_release" / "data").read_text() == "mine"


EGGS_PROFILE = """
[buildout]
parts = eggs
eggs-directory = {eggs}

[eggs]
recipe = slapkit:jinja2
output = ${{buildout:directory}}/eggs-directory
inline = ${{buildout:eggs-directory}}
"""


def test_eggs_of_a_software_release_built_with_zc_buildout_3_are_where_it_put_them(tmp_path):
    """zc.buildout 5+ looks in EGGS/v5; SlapOS software releases (zc.buildout
    3) have their eggs in EGGS, which their instance profiles name."""
    import importlib.metadata

    release = tmp_path / "release"
    (release / "eggs").mkdir(parents=True)
    partition = tmp_path / "partition"
    profile = tmp_path / "instance.cfg"
    profile.write_text(EGGS_PROFILE.format(eggs=release / "eggs"))
    args = ("deploy", profile, "--partition", partition, "--software-release", release)
    slapkit(*args)
    assert (partition / "eggs-directory").read_text() == str(release / "eggs")
    # A software release built with zc.buildout 5+ has EGGS/v5: kept.
    (release / "eggs" / "v5").mkdir()
    slapkit(*args)
    modern = int(importlib.metadata.version("zc.buildout").split(".")[0]) >= 5
    expected = release / "eggs" / "v5" if modern else release / "eggs"
    assert (partition / "eggs-directory").read_text() == str(expected)


REQUESTING_PROFILE = """
[buildout]
parts = seen

[child]
<= slap-connection
recipe = slapkit:requestoptional
software-url = ${slap-connection:software-release-url}
name = child
software-type = worker
return = url

[seen]
recipe = slapkit:jinja2
output = ${buildout:directory}/seen
inline = [{{ url }}]
context = key url child:connection-url
"""


def test_the_runner_plays_the_master_for_requested_instances(tmp_path):
    partition = tmp_path / "partition"
    profile = tmp_path / "instance.cfg"
    profile.write_text(REQUESTING_PROFILE)
    first = slapkit("deploy", profile, "--partition", partition)
    assert (partition / "seen").read_text() == "[]"
    assert (
        "warning      [child] optional request: 'child' has no answer yet "
        "(slapkit deploy --requested FILE gives what it publishes); its outputs are empty"
    ) in first.stdout
    answers = tmp_path / "answers.json"
    answers.write_text('{"chlid": {"url": "http://child/"}}')  # a typo: said, not ignored
    typo = slapkit("deploy", "--partition", partition, "--requested", answers)
    assert (
        "note         --requested answers no part asked for: 'chlid' (a typo? requested "
        "by this profile: 'child')"
    ) in typo.stdout
    answers.write_text('{"child": {"url": "http://child/"}}')
    slapkit("deploy", "--partition", partition, "--requested", answers)
    assert (partition / "seen").read_text() == "[http://child/]"
    again = slapkit("deploy", "--partition", partition)  # remembered
    assert "warning" not in again.stdout
    assert (partition / "seen").read_text() == "[http://child/]"
    slapkit("deploy", "--partition", partition, "--reset")
    assert (partition / "seen").read_text() == "[]"

    answers.write_text('{"child": "http://child/"}')
    bad = slapkit("deploy", "--partition", partition, "--requested", answers, check=False)
    assert bad.returncode == 2
    assert "--requested: " in bad.stderr and "must hold a JSON object of objects" in bad.stderr


def test_software_release_refused_writes_nothing_and_an_empty_value_goes_back(tmp_path):
    partition = tmp_path / "partition"
    first = write_profile(tmp_path)
    slapkit("deploy", first, "--partition", partition)
    config = (partition / "buildout.cfg").read_text()
    link = partition / "software_release"
    runners_own = link.resolve()

    # A directory there: refused before anything else is written.
    link.unlink()
    link.mkdir()
    other = write_profile(tmp_path, "other.cfg")
    refused = slapkit("deploy", other, "--partition", partition, check=False)
    assert refused.returncode == 2
    assert (partition / "buildout.cfg").read_text() == config
    link.rmdir()

    # A name with a control character, and a release without buildout.cfg.
    odd = tmp_path / "a\nb"
    odd.mkdir()
    bad = slapkit("deploy", "--partition", partition, "--software-release", odd, check=False)
    assert bad.returncode == 2 and "holds a control character" in bad.stderr
    bare = tmp_path / "bare"
    bare.mkdir()
    noted = slapkit("deploy", "--partition", partition, "--software-release", bare)
    assert f"the software release {bare} has no buildout.cfg" in noted.stdout
    # '' goes back to the runner's own.
    back = slapkit("deploy", "--partition", partition, "--software-release", "")
    assert "software     " not in back.stdout
    assert link.resolve() == runners_own


def test_a_comment_naming_eggs_directory_version_is_not_the_option(tmp_path):
    import importlib.metadata

    release = tmp_path / "release"
    (release / "eggs").mkdir(parents=True)
    profile = tmp_path / "instance.cfg"
    profile.write_text(
        "# no eggs-directory-version here\n" + EGGS_PROFILE.format(eggs=release / "eggs")
    )
    partition = tmp_path / "partition"
    slapkit("deploy", profile, "--partition", partition)
    if int(importlib.metadata.version("zc.buildout").split(".")[0]) >= 5:
        assert (partition / "eggs-directory").read_text() == str(release / "eggs")


def test_a_failed_deploy_still_lists_the_files_it_changed(tmp_path):
    partition = tmp_path / "partition"
    profile = tmp_path / "instance.cfg"
    profile.write_text(
        "[buildout]\nparts = a b\n"
        "[a]\nrecipe = slapkit:jinja2\noutput = ${buildout:directory}/a.txt\ninline = a\n"
        # fails at install, once [a] has written: a.txt is not a directory
        "[b]\nrecipe = slapkit:jinja2\noutput = ${buildout:directory}/a.txt/b.txt\n"
        "inline = b\n"
    )
    failed = slapkit("deploy", profile, "--partition", partition, check=False)
    assert failed.returncode == 1
    assert "files        1 changed before it failed\n  a: created " in failed.stdout


@pytest.mark.parametrize("option", ["--requested", "--parameters", "--shared"])
def test_a_device_or_a_huge_file_given_to_the_runner_is_refused(tmp_path, option):
    profile = write_profile(tmp_path)
    partition = tmp_path / "partition"
    device = slapkit("deploy", profile, "--partition", partition, option, "/dev/zero", check=False)
    assert device.returncode == 2
    assert f"{option}: '/dev/zero' is not a regular file" in device.stderr
    huge = tmp_path / "huge.json"
    huge.write_text('{"x": "' + "a" * (1 << 20) + '"}')
    result = slapkit("deploy", profile, "--partition", partition, option, huge, check=False)
    assert result.returncode == 2
    assert f"{option}: '{huge}' is bigger than 1 MB" in result.stderr


def test_an_optional_request_is_said_whatever_the_profiles_log_level(tmp_path):
    partition = tmp_path / "partition"
    profile = tmp_path / "instance.cfg"
    profile.write_text(
        REQUESTING_PROFILE.replace("parts = seen", "parts = seen\nlog-level = ERROR")
    )
    result = slapkit("deploy", profile, "--partition", partition)
    assert "warning      [child] optional request: 'child' has no answer yet" in result.stdout
