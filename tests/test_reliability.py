"""Crash safety, convergence, faults, injection and secrets, on real buildout runs."""

import errno
import json
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from buildout_harness import snapshot
from slapkit.runner.partition import set_aside_broken_installed_cfg
from test_wrapper import RECORD, read_record

EXAMPLES = Path(__file__).parent.parent / "examples"
KILL_POINTS = int(os.environ.get("SLAPKIT_KILL_POINTS", "60"))
TEMPORARY = re.compile(r"^\..+\.tmp$")
BOOKKEEPING = {
    ".installed.cfg",
    ".installed.cfg.broken",
    "eggs",
    "develop-eggs",
    "bin",
    "sbin",
    "parts",
}


def contents(directory: Path) -> dict[str, bytes]:
    """Every file's content, temporaries included (slapgrid would start a
    temporary left in etc/service as a program)."""
    result = {}
    for root, dirs, files in os.walk(directory):
        if root == str(directory):
            dirs[:] = [d for d in dirs if d not in BOOKKEEPING]
        for name in files:
            if name in BOOKKEEPING or name.endswith(".cfg"):
                continue
            path = os.path.join(root, name)
            with open(path, "rb") as stream:
                result[os.path.relpath(path, directory)] = stream.read()
    return result


def hello_web(buildout, port: int, greeting: str, extension: bool = False) -> None:
    """examples/hello-web, deployed by plain buildout with these parameters
    (and slapkit's extension)."""
    shutil.copy(EXAMPLES / "hello-web" / "instance.cfg", buildout.path("instance.cfg"))
    params = buildout.path("parameters.json")
    params.write_text(json.dumps({"port": str(port), "greeting": greeting}))
    extensions = "extensions = slapkit\n" if extension else ""
    buildout.write(
        f"[buildout]\nextends = instance.cfg\n{extensions}"
        f"[slap-connection]\nparameters-file = {params}\n"
    )


def output_window(buildout) -> int:
    """How many lines a run prints (one as each part's update begins, one
    for each file written)."""
    return buildout.run().check().output.count("\n")


@pytest.mark.parametrize("extension", [False, True], ids=["plain", "extension"])
def test_sigkill_at_random_points_never_leaves_a_partial_file(buildout, extension):
    """Without slapkit's extension zc.buildout's own .installed.cfg may be
    cut (counted, set aside, converged); with it, never."""
    inputs = [(18001, "Hello A"), (18002, "Hello B \u00e9\n$(id)")]
    states = []
    kill_points = KILL_POINTS if not extension else max(1, KILL_POINTS // 2)
    for port, greeting in inputs:
        hello_web(buildout, port, greeting, extension)
        buildout.run().check()
        states.append(contents(buildout.directory))
    password = buildout.path("srv", "admin-password").read_text()
    # Kills are aimed at the window where buildout updates parts, from its
    # first line to its end (about 10 ms of 0.25 s): before it, it only
    # reads the profile and constructs the recipes, which write nothing here.
    # So a kill comes right after a random line of the run's output.
    windows = []
    for target in (0, 1, 0, 1):
        hello_web(buildout, *inputs[target], extension)
        windows.append(output_window(buildout))
    lines = min(w for w in windows)

    rng = random.Random(20261124)
    kills = attempts = bookkeeping_cut = temporaries_left = 0
    target = 0
    while kills < kill_points and attempts < kill_points * 4:
        attempts += 1
        target = 1 - target
        hello_web(buildout, *inputs[target], extension)
        running = buildout.start()
        # after a random line: inside the update of a random part
        running.wait_for_output(lines=rng.randint(1, lines))
        time.sleep(rng.uniform(0, 0.002))
        if not running.kill():
            continue  # it had not begun its work, or had finished: not a kill point
        kills += 1
        now = contents(buildout.directory)
        for path, data in now.items():
            if TEMPORARY.match(os.path.basename(path)):
                temporaries_left += 1  # the next run must remove it
                continue
            allowed = [state[path] for state in states if path in state]
            assert data in allowed, f"kill {kills}: {path} is neither old nor new: {data[:80]!r}"
        assert buildout.path("srv", "admin-password").read_text() == password
        # zc.buildout rewrites its own .installed.cfg in place: a kill there
        # leaves it unreadable to buildout. slapkit deploy sets it aside; the
        # recipes, which look at the disk, must then converge all the same.
        if set_aside_broken_installed_cfg(buildout.directory):
            bookkeeping_cut += 1
        buildout.run().check()  # the next run converges, leaving no temporary
        assert contents(buildout.directory) == states[target], f"kill {kills}: did not converge"
    assert kills >= kill_points, f"only {kills} kills landed in {attempts} runs"
    assert buildout.path("srv", "admin-password").read_text() == password
    if extension:
        assert bookkeeping_cut == 0, f".installed.cfg cut {bookkeeping_cut} times"
    print(
        f"\n{kills} kill points in {attempts} runs; buildout's .installed.cfg cut "
        f"{bookkeeping_cut} times; {temporaries_left} temporaries left by a kill, all removed"
    )


def test_any_sequence_of_edits_converges_and_a_final_rerun_writes_nothing(buildout):
    rng = random.Random(7)
    for _ in range(12):
        hello_web(
            buildout, rng.choice([18011, 18012, 18013]), rng.choice(["a", "b", "${x:y}", "{{ 1 }}"])
        )
        buildout.run().check()
        if rng.random() < 0.3:
            buildout.path("etc", "hello-web.json").unlink()
            buildout.run().check()
            assert buildout.path("etc", "hello-web.json").exists()
    before = snapshot(buildout.directory)
    final = buildout.run().check()
    assert snapshot(buildout.directory) == before
    assert "Installing" not in final.output and "Uninstalling" not in final.output
    services = list(buildout.path("etc", "service").iterdir())
    assert len(services) == 1  # never two hashed wrappers of one service


def test_hand_edits_are_restored(buildout):
    hello_web(buildout, 18021, "hi")
    buildout.run().check()
    config = buildout.path("etc", "hello-web.json")
    original = config.read_text()
    config.write_text("{}")
    (wrapper,) = buildout.path("etc", "service").iterdir()
    wrapper.write_text("#!/bin/sh\nexec evil\n")
    buildout.run().check()
    assert config.read_text() == original
    assert "exec evil" not in wrapper.read_text()


# --- faults -----------------------------------------------------------------


def _fail_fsync(code):
    """In the forked buildout only: every fsync fails as a full or read-only disk would."""

    def setup():
        def fsync(fd):
            raise OSError(code, os.strerror(code))

        os.fsync = fsync

    return setup


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EIO])
def test_write_faults_are_clear_errors_leaving_the_old_file_and_no_temporary(buildout, code):
    output = buildout.path("out")
    profile = f"[buildout]\nparts = config\n[config]\nrecipe = slapkit:jinja2\noutput = {output}\ninline = version {{{{ 1 }}}}\n"
    buildout.run(profile).check()
    buildout.write(profile.replace("version", "version two"))
    result = buildout.run_with(_fail_fsync(code))
    assert result.returncode != 0
    assert f"Error: [config] output: cannot write '{output}': {os.strerror(code)}" in result.output
    assert "Traceback" not in result.output
    assert output.read_text() == "version 1"
    assert [p.name for p in buildout.directory.iterdir() if TEMPORARY.match(p.name)] == []


def test_password_storage_fault_is_a_clear_error_and_stores_nothing(buildout):
    buildout.write("[buildout]\nparts = pw\n[pw]\nrecipe = slapkit:generate.password\n")
    result = buildout.run_with(_fail_fsync(errno.ENOSPC))
    assert result.returncode != 0
    assert "Error: [pw] storage-path: cannot store the password in" in result.output
    assert "No space left on device" in result.output
    assert not buildout.path("parts", "pw").exists()
    assert [p.name for p in buildout.path("parts").iterdir()] == []


# --- injection --------------------------------------------------------------

INJECTIONS = [
    "$(touch {sentinel})",
    "`touch {sentinel}`",
    "; touch {sentinel} #",
    "' ; touch {sentinel} ; '",
    '" ; touch {sentinel} ; "',
    "line one\nline two\n[section]\nrecipe = evil",
    "${{buildout:directory}}",
    "$${{buildout:directory}}",
    "{{{{ 7 * 7 }}}}",
    "{{% for x in range(3) %}}{{{{ x }}}}{{% endfor %}}",
    "{{{{ cycler.__init__.__globals__.os.system('touch {sentinel}') }}}}",
    "%(here)s %%",
    "\\n \\t \\\\",
]


def junk(rng: random.Random) -> str:
    return bytes(rng.randrange(1, 256) for _ in range(64)).decode("latin-1")


def test_parameter_values_reach_configs_and_programs_literally(buildout, tmp_path):
    sentinel = tmp_path / "executed"
    rng = random.Random(3)
    values = [v.format(sentinel=sentinel) for v in INJECTIONS] + [junk(rng) for _ in range(8)]
    params = {f"p{i}": v for i, v in enumerate(values)}
    params_file = buildout.path("parameters.json")
    params_file.write_text(json.dumps(params))
    record = tmp_path / "record.json"
    context = "\n".join(f"  key p{i} slap-parameter:p{i}" for i in range(len(values)))
    buildout.run(f"""
[buildout]
parts = program

[slap-parameter]
recipe = slapkit:parameters
parameters-file = {params_file}

[config]
recipe = slapkit:jinja2
output = {buildout.path("config.json")}
context =
{context}
  jsonkey everything slap-parameter:parameters-json
inline = {{{{ everything | tojson }}}}

[text-config]
recipe = slapkit:jinja2
output = {buildout.path("config.txt")}
context =
{context}
inline = {"{{ p0 }}"}{"".join(f"|{{{{ p{i} }}}}" for i in range(1, len(values)))}

[program]
recipe = slapkit:wrapper
command-line = {sys.executable} {RECORD} ${{config:output}} ${{text-config:output}}
environment = RECORD_TO={record}
wrapper-path = {buildout.path("program")}
""").check()
    assert json.loads(buildout.path("config.json").read_text()) == params
    # an option is buildout's text: a CR line break is a LF there
    as_text = [v.replace("\r\n", "\n").replace("\r", "\n") for v in values]
    assert buildout.path("config.txt").read_bytes().decode("utf-8") == "|".join(as_text)
    subprocess.run([str(buildout.path("program"))], check=True, timeout=30)
    config_path, _ = read_record(record)["argv"]
    assert json.loads(Path(config_path).read_text()) == params  # the program reads them intact
    assert not sentinel.exists()


# --- secrets ----------------------------------------------------------------


def test_secret_given_to_a_service_by_environment(buildout, tmp_path):
    record = tmp_path / "record.json"
    result = buildout.run(
        f"""
[buildout]
parts = service

[password]
recipe = slapkit:generate.password

[service]
recipe = slapkit:wrapper
command-line = {sys.executable} {RECORD}
environment =
  RECORD_TO={record}
  RECORD_SLEEP=30
  ADMIN_PASSWORD=${{password:passwd}}
wrapper-path = {buildout.path("service")}
""",
        "-vv",
    ).check()
    password = buildout.path("parts", "password").read_text()
    wrapper = buildout.path("service")
    assert stat.S_IMODE(wrapper.stat().st_mode) == 0o700  # it holds the secret
    assert password not in buildout.path(".installed.cfg").read_text()
    assert password not in result.output
    process = subprocess.Popen([str(wrapper)])
    try:
        assert read_record(record)["env"]["ADMIN_PASSWORD"] == password
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        assert password.encode() not in cmdline  # ps shows no password
    finally:
        process.kill()
        process.wait()
    rerun = buildout.run().check()
    assert "Installing" not in rerun.output
