"""Crash safety, convergence, faults, injection and secrets, on real buildout runs."""

import errno
import itertools
import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
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


# Every call that changes the disk, as the forked buildout makes it: a kill
# point is "just before the Nth of them", the same point whatever the speed
# of the machine.
_MUTATING = (
    "write", "fsync", "fdatasync", "rename", "replace", "unlink", "remove", "rmdir",
    "mkdir", "chmod", "fchmod", "chown", "symlink", "link", "truncate", "ftruncate", "utime",
)  # fmt: skip
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _mutations(record_fd: int, kill_at: int = 0):
    """In the forked buildout only: write one line naming each call that
    changes the disk to ``record_fd`` and, when ``kill_at`` is given, SIGKILL
    the process just before the ``kill_at``-th of them."""

    def setup():
        import builtins
        import io
        import signal

        count = 0
        write, kill, real_open, real_os_open = os.write, os.kill, io.open, os.open

        def event(kind, where):
            nonlocal count
            count += 1
            write(record_fd, f"{kind} {where!r}\n".encode())
            if count == kill_at:
                kill(os.getpid(), signal.SIGKILL)

        def wrap(name, original):
            def call(*args, **kwargs):
                event(f"os.{name}", args[0] if args else "")
                return original(*args, **kwargs)

            return call

        for name in _MUTATING:
            if hasattr(os, name):
                setattr(os, name, wrap(name, getattr(os, name)))

        def os_open(path, flags, *args, **kwargs):
            if flags & _WRITE_FLAGS:
                event("os.open", path)
            return real_os_open(path, flags, *args, **kwargs)

        def open_(file, mode="r", *args, **kwargs):
            if not any(letter in mode for letter in "wax+"):
                return real_open(file, mode, *args, **kwargs)
            event(f"open-{mode}", file)
            stream = real_open(file, mode, *args, **kwargs)
            event(f"opened-{mode}", file)  # nothing written yet ("w": truncated)
            return stream

        os.open = os_open
        io.open = builtins.open = open_

    return setup


def _recorded_run(buildout, kill_at: int = 0):
    """(return code, [the kind of each call that changed the disk, in order])."""
    with tempfile.TemporaryFile() as record:
        result = buildout.start(setup=_mutations(record.fileno(), kill_at)).wait()
        record.seek(0)
        kinds = [line.split(" ", 1)[0] for line in record.read().decode().splitlines()]
    return result, kinds


@pytest.mark.parametrize("extension", [False, True], ids=["plain", "extension"])
def test_sigkill_at_every_kind_of_point_never_leaves_a_partial_file(buildout, extension):
    """Without slapkit's extension zc.buildout's own .installed.cfg may be
    cut (counted, set aside, converged); with it, never."""
    inputs = [(18001, "Hello A"), (18002, "Hello B \u00e9\n$(id)")]
    states = []
    for port, greeting in inputs:
        hello_web(buildout, port, greeting, extension)
        buildout.run().check()
        states.append(contents(buildout.directory))
    password = buildout.path("srv", "admin-password").read_text()
    # The calls that change the disk in a run going to each input, counted
    # in two runs each: the same sequence every time (nothing here depends
    # on time), so the Nth call is one known point of the run.
    sequences = {}
    for target in (0, 1, 0, 1):
        hello_web(buildout, *inputs[target], extension)
        result, kinds = _recorded_run(buildout)
        result.check()
        assert sequences.setdefault(target, kinds) == kinds, "the run is not deterministic"
    # Kill points, the runs alternating between the two inputs (each one
    # changes files): just before the Nth call, N spread evenly over each
    # run, and before the first call of every kind, so every step of a write
    # (open, fsync, chmod, rename, unlink of the old wrapper, buildout's
    # .installed.cfg) is hit.
    wanted = KILL_POINTS if not extension else max(1, KILL_POINTS // 2)
    plan = []
    for target in (0, 1):
        length = len(sequences[target])
        count = min(length, max(1, wanted // 2))
        points = {1 + n * length // count for n in range(count)}
        for kind in set(sequences[target]):  # and before the first call of every kind
            points.add(1 + sequences[target].index(kind))
        plan.append([(target, point) for point in sorted(points)])
    plan = [point for pair in itertools.zip_longest(*plan) for point in pair if point]
    killed_before = set()
    bookkeeping_cut = temporaries_left = 0
    current = 1  # the input of the last run
    for kills, (target, kill_at) in enumerate(plan, 1):
        if target == current:  # a run from the other input, to change files
            hello_web(buildout, *inputs[1 - target], extension)
            buildout.run().check()
        current = target
        hello_web(buildout, *inputs[target], extension)
        result, kinds = _recorded_run(buildout, kill_at)
        assert result.returncode == -signal.SIGKILL, f"kill {kills} did not land:\n{result.output}"
        assert kinds == sequences[target][:kill_at], f"kill {kills}: another sequence of calls"
        killed_before.add(kinds[-1])
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
    assert len(set(plan)) == len(plan) >= min(wanted, 20)  # distinct points, all landed
    assert {"os.open", "os.fsync", "os.fchmod", "os.rename", "os.unlink"} <= killed_before
    assert buildout.path("srv", "admin-password").read_text() == password
    if extension:
        assert bookkeeping_cut == 0, f".installed.cfg cut {bookkeeping_cut} times"
    else:  # killed just after buildout truncated it to rewrite it
        assert "opened-w" in killed_before and bookkeeping_cut > 0
    print(
        f"\n{len(plan)} kill points (before {sorted(killed_before)}); buildout's .installed.cfg "
        f"cut {bookkeeping_cut} times; {temporaries_left} temporaries left by a kill, all removed"
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
