import errno
import json
import os
import select
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from buildout_harness import snapshot

RECORD = Path(__file__).parent / "programs" / "record.py"
PYTHON = sys.executable


def wrapper_profile(buildout, options: str, part: str = "service") -> str:
    return f"""
[buildout]
parts = directory {part}

[directory]
recipe = slapkit:mkdirectory
service = {buildout.path("etc", "service")}
run = {buildout.path("etc", "run")}

[{part}]
recipe = slapkit:wrapper
wrapper-path = {buildout.path("etc", "service", part)}
{options}
"""


def run_wrapper(path, *args, env=None, timeout=10):
    return subprocess.run(
        [str(path), *args],
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def read_record(path: Path, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never written"
        time.sleep(0.02)
    return json.loads(path.read_text())


def test_wrapper_execs_the_program_which_keeps_the_wrapper_pid(buildout, tmp_path):
    record = tmp_path / "record.json"
    buildout.run(
        wrapper_profile(
            buildout, f"command-line = {PYTHON} {RECORD}\nenvironment = RECORD_TO={record}"
        )
    ).check()
    wrapper = buildout.path("etc", "service", "service")
    assert stat.S_IMODE(wrapper.stat().st_mode) == 0o750
    assert wrapper.read_text().startswith("#!/bin/sh\n")
    process = subprocess.Popen([str(wrapper)])
    try:
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
    assert read_record(record)["pid"] == process.pid


NASTY = [
    "two words",
    "it's",
    'say "hi"',
    "$HOME",
    "`id`",
    "$(touch {sentinel}); rm -rf ~",
    "back\\slash",
    "semi;colon && |pipe| >redirect",
    "*",
]


def test_arguments_reach_the_program_literally_and_nothing_runs(buildout, tmp_path):
    record = tmp_path / "record.json"
    sentinel = tmp_path / "sentinel"
    values = [v.format(sentinel=sentinel) for v in NASTY]
    import shlex

    command = " ".join([PYTHON, str(RECORD), *(shlex.quote(v) for v in values)])
    buildout.run(
        wrapper_profile(buildout, f"command-line = {command}\nenvironment = RECORD_TO={record}")
    ).check()
    result = run_wrapper(buildout.path("etc", "service", "service"))
    assert result.returncode == 0, result.stderr
    assert read_record(record)["argv"] == values
    assert not sentinel.exists()


def test_multi_line_argument_keeps_its_newline(buildout, tmp_path):
    record = tmp_path / "record.json"
    buildout.run(
        wrapper_profile(
            buildout,
            f"command-line = {PYTHON} {RECORD} 'first line\n  second line'\n"
            f"environment = RECORD_TO={record}",
        )
    ).check()
    run_wrapper(buildout.path("etc", "service", "service"))
    (argument,) = read_record(record)["argv"]
    assert argument.splitlines() == ["first line", "second line"]


def test_arguments_are_one_argument_a_line_whatever_they_hold(buildout, tmp_path):
    record = tmp_path / "record.json"
    text = wrapper_profile(
        buildout,
        f"command-line = {PYTHON} {RECORD} first\nenvironment = RECORD_TO={record}\n"
        "arguments =\n  two words\n  ${values:quoted}\n  $HOME",
    ).replace("[directory]", "[values]\nquoted = it's \"one\" 'word'\n\n[directory]")
    buildout.run(text).check()
    result = run_wrapper(buildout.path("etc", "service", "service"))
    assert result.returncode == 0, result.stderr
    assert read_record(record)["argv"] == ["first", "two words", "it's \"one\" 'word'", "$HOME"]


def test_environment_is_exported_literally(buildout, tmp_path):
    record = tmp_path / "record.json"
    buildout.run(
        wrapper_profile(
            buildout,
            f"command-line = {PYTHON} {RECORD}\n"
            f"environment =\n  RECORD_TO={record}\n  GREETING=hello world\n"
            f"  TRICKY=$HOME 'q' $(id)",
        )
    ).check()
    run_wrapper(buildout.path("etc", "service", "service"))
    env = read_record(record)["env"]
    assert env["GREETING"] == "hello world"
    assert env["TRICKY"] == "$HOME 'q' $(id)"


@pytest.mark.parametrize("extra", ["yes", "off", None], ids=["yes", "off", "default"])
def test_parameters_extra(buildout, tmp_path, extra):
    record = tmp_path / "record.json"
    option = "" if extra is None else f"\nparameters-extra = {extra}"
    buildout.run(
        wrapper_profile(
            buildout,
            f"command-line = {PYTHON} {RECORD} fixed\nenvironment = RECORD_TO={record}{option}",
        )
    ).check()
    run_wrapper(buildout.path("etc", "service", "service"), "more", "and more")
    expected = ["fixed", "more", "and more"] if extra == "yes" else ["fixed"]
    assert read_record(record)["argv"] == expected


def test_wait_for_files_waits_then_runs(buildout, tmp_path):
    record = tmp_path / "record.json"
    ready = tmp_path / "ready"
    other = tmp_path / "other"
    other.write_text("")
    buildout.run(
        wrapper_profile(
            buildout,
            f"command-line = {PYTHON} {RECORD}\nenvironment = RECORD_TO={record}\n"
            f"wait-for-files =\n  {other}\n  {ready}",
        )
    ).check()
    process = subprocess.Popen(
        [str(buildout.path("etc", "service", "service"))],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # It says it waits (the event that comes after it looked for the
        # files): from then on it has not run the program, and must not.
        said, _, _ = select.select([process.stderr], [], [], 30)
        assert said, "the wrapper never said that it waits"
        first = process.stderr.readline()
        assert "waiting for" in first and str(ready) in first
        assert process.poll() is None and not record.exists()
        ready.write_text("")
        assert process.wait(timeout=30) == 0
        assert read_record(record)["pid"] == process.pid
        stderr = first + process.stderr.read()
        assert stderr.count("waiting for") == 1
        assert str(ready) in stderr
    finally:
        process.kill()


def test_pidfile_refuses_a_second_copy_and_recovers_from_a_stale_one(buildout, tmp_path):
    record = tmp_path / "record.json"
    pidfile = tmp_path / "service.pid"
    buildout.run(
        wrapper_profile(
            buildout,
            f"command-line = {PYTHON} {RECORD}\n"
            f"environment =\n  RECORD_TO={record}\n  RECORD_SLEEP=30\npidfile = {pidfile}",
        )
    ).check()
    wrapper = buildout.path("etc", "service", "service")
    first = subprocess.Popen([str(wrapper)])
    try:
        read_record(record)
        assert int(pidfile.read_text()) == first.pid
        second = run_wrapper(wrapper)
        assert second.returncode == 1
        assert f"already running as pid {first.pid}" in second.stderr
    finally:
        first.kill()
        first.wait()
    # first was killed without cleaning up: its pidfile is stale
    record.unlink()
    third = subprocess.Popen([str(wrapper)])
    try:
        assert read_record(record)["pid"] == third.pid
        assert int(pidfile.read_text()) == third.pid
    finally:
        third.kill()
        third.wait()


def hashed_wrappers(buildout):
    return sorted(p.name for p in buildout.path("etc", "service").iterdir())


def test_hash_files_renames_on_change_and_removes_the_old_wrapper(buildout, tmp_path):
    config = tmp_path / "service.conf"
    config.write_text("port = 8080\n")
    text = wrapper_profile(buildout, f"command-line = {PYTHON} {RECORD}\nhash-files = {config}")
    first = buildout.run(text).check()
    (name,) = hashed_wrappers(buildout)
    assert name.startswith("service-") and len(name) == len("service-") + 16
    before = snapshot(buildout.directory)
    rerun = buildout.run().check()
    assert snapshot(buildout.directory) == before
    assert "Installing" not in rerun.output and "created" not in rerun.output

    # The part's options are unchanged, so buildout calls update(): the new
    # content must still give a new name.
    config.write_text("port = 8081\n")
    changed = buildout.run().check()
    assert "Updating service." in changed.output
    (new_name,) = hashed_wrappers(buildout)
    assert new_name != name
    assert f"removed {buildout.path('etc', 'service', name)}" in changed.output
    assert "Installing service." in first.output
    after_change = snapshot(buildout.directory)
    final = buildout.run().check()
    assert snapshot(buildout.directory) == after_change
    assert "Uninstalling" not in final.output and "Installing" not in final.output


def test_a_wrapper_whose_name_extends_another_keeps_its_own_digest(buildout, tmp_path):
    """``web`` and ``web-admin`` share a prefix: renaming one leaves the other."""
    web, admin = tmp_path / "web.conf", tmp_path / "admin.conf"
    web.write_text("a")
    admin.write_text("b")
    text = (
        wrapper_profile(
            buildout, f"command-line = {PYTHON} {RECORD}\nhash-files = {web}", part="web"
        )
        + f"""
[web-admin]
recipe = slapkit:wrapper
command-line = {PYTHON} {RECORD}
wrapper-path = {buildout.path("etc", "service", "web-admin")}
hash-files = {admin}
"""
    )
    buildout.run(text.replace("parts = directory web", "parts = directory web web-admin")).check()
    (admin_name,) = [n for n in hashed_wrappers(buildout) if n.startswith("web-admin-")]
    admin_wrapper = buildout.path("etc", "service", admin_name)
    before = os.stat(admin_wrapper)
    web.write_text("changed")
    result = buildout.run().check()
    names = hashed_wrappers(buildout)
    assert len(names) == 2 and admin_name in names
    assert admin_name not in result.output  # neither removed nor written again
    after = os.stat(admin_wrapper)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_hash_existing_files_gives_the_final_path_to_other_parts(buildout, tmp_path):
    binary = tmp_path / "binary"
    binary.write_text("v1")
    text = wrapper_profile(
        buildout,
        f"command-line = {PYTHON} {RECORD}\nhash-existing-files = {binary}\n"
        f"[show]\nrecipe = slapkit:mkdirectory\nwhere = {tmp_path}/${{service:wrapper-path}}.d\n",
    ).replace("parts = directory service", "parts = directory service show")
    buildout.run(text).check()
    (name,) = hashed_wrappers(buildout)
    assert (tmp_path / (str(buildout.path("etc", "service", name)).lstrip("/") + ".d")).is_dir()
    binary.write_text("v2")
    result = buildout.run().check()
    (new_name,) = hashed_wrappers(buildout)
    assert new_name != name
    assert "Uninstalling service." in result.output


def test_hash_files_made_by_this_run_beside_hash_existing_files(buildout, tmp_path):
    """The config is written by an earlier part of the same run: it does not
    exist yet when buildout reads the wrapper's part."""
    binary = tmp_path / "binary"
    binary.write_text("v1")

    def text(port):
        return wrapper_profile(
            buildout,
            f"command-line = {PYTHON} {RECORD}\nhash-existing-files = {binary}\n"
            "hash-files = ${config:output}\n"
            f"[config]\nrecipe = slapkit:jinja2\noutput = {buildout.path('service.conf')}\n"
            f"inline = port = {port}\n",
        ).replace("parts = directory service", "parts = directory config service")

    buildout.run(text(8080)).check()
    (name,) = hashed_wrappers(buildout)
    assert name.startswith("service-")
    buildout.run(text(8081)).check()
    (new_name,) = hashed_wrappers(buildout)
    assert new_name != name


def test_removing_the_part_removes_its_wrappers(buildout, tmp_path):
    config = tmp_path / "service.conf"
    config.write_text("x")
    buildout.run(
        wrapper_profile(buildout, f"command-line = {PYTHON} {RECORD}\nhash-files = {config}")
    ).check()
    assert hashed_wrappers(buildout)
    result = buildout.run(
        wrapper_profile(buildout, "").replace("parts = directory service", "parts = directory")
    ).check()
    assert hashed_wrappers(buildout) == []
    assert "removed" in result.output


def test_unchanged_wrapper_is_not_rewritten_but_a_deleted_one_comes_back(buildout):
    text = wrapper_profile(buildout, "command-line = /bin/true")
    buildout.run(text).check()
    before = snapshot(buildout.directory)
    assert "created" not in buildout.run().check().output
    assert snapshot(buildout.directory) == before
    buildout.path("etc", "service", "service").unlink()
    result = buildout.run().check()
    assert f"created {buildout.path('etc', 'service', 'service')}" in result.output


@pytest.mark.parametrize(
    "options, message",
    [
        ("", "[service] command-line: is required and was not given"),
        ("command-line = echo 'unbalanced", "[service] command-line: cannot split"),
        (
            "command-line = true\nparameters-extra = maybe",
            "[service] parameters-extra: 'maybe' is not a boolean",
        ),
        (
            "command-line = true\nenvironment = not an assignment",
            "[service] environment: 'not an assignment' is not of the form NAME=value",
        ),
        (
            "command-line = true\nenvironment = A-B=x",
            "[service] environment: 'A-B=x' is not of the form NAME=value",
        ),
        (
            "command-line = true\nenvironment = 1A=x",
            "[service] environment: '1A=x' is not of the form NAME=value",
        ),
        (
            "command-line = true\nenvironment = \u00c9T\u00c9=x",
            "[service] environment: '\u00c9T\u00c9=x' is not of the form NAME=value",
        ),
        (
            "command-line = true\nhash-files = /nonexistent/config",
            "[service] hash-files: '/nonexistent/config' does not exist",
        ),
        (
            "command-line = true\nhash-existing-files = /nonexistent/bin",
            "[service] hash-existing-files: '/nonexistent/bin' does not exist",
        ),
        (
            "command-line = true\nwait-for-files = relative/path",
            "[service] wait-for-files: 'relative/path' is not an absolute path",
        ),
    ],
)
def test_bad_input_is_a_user_error_and_writes_no_wrapper(buildout, options, message):
    result = buildout.run(wrapper_profile(buildout, options))
    assert result.returncode != 0
    assert f"Error: {message}" in result.output
    assert "Traceback" not in result.output
    service = buildout.path("etc", "service")
    assert not service.exists() or list(service.iterdir()) == []


# --- a wrapper that holds a generated secret is its user's only -------------------------


@pytest.mark.parametrize(
    "options",
    [
        "command-line = {python} {record}\nenvironment = TOKEN=${{password:passwd}}",
        "command-line = {python} {record} --token=${{password:passwd}}",
        "command-line = {python} {record} --token=${{password:passwd}}\nhash-files = {config}",
    ],
    ids=["environment", "argument", "hashed"],
)
def test_a_wrapper_holding_a_generated_secret_is_mode_0700(buildout, tmp_path, options):
    config = tmp_path / "service.conf"
    config.write_text("x")
    text = wrapper_profile(
        buildout, options.format(python=PYTHON, record=RECORD, config=config)
    ).replace("[directory]", "[password]\nrecipe = slapkit:generate.password\n\n[directory]")
    buildout.run(text).check()
    (wrapper,) = buildout.path("etc", "service").iterdir()
    password = buildout.path("parts", "password").read_text()
    assert password in wrapper.read_text()
    assert stat.S_IMODE(wrapper.stat().st_mode) == 0o700
    # and it stays so when a run finds it otherwise
    wrapper.chmod(0o750)
    buildout.run().check()
    (wrapper,) = buildout.path("etc", "service").iterdir()
    assert stat.S_IMODE(wrapper.stat().st_mode) == 0o700


# --- a wrapper another part of the new configuration writes is never removed -------------


def _disk_full():
    """In the forked buildout only: every fsync fails as on a full disk."""

    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    os.fsync = fsync


def service_options(tmp_path, hashed: bool) -> str:
    config = tmp_path / "service.conf"
    config.write_text("x")
    return f"command-line = {PYTHON} {RECORD}\n" + (f"hash-files = {config}\n" if hashed else "")


@pytest.mark.parametrize("hashed", [False, True], ids=["plain", "hashed"])
def test_a_wrapper_the_changed_part_writes_is_neither_removed_nor_rewritten(
    buildout, tmp_path, hashed
):
    options = service_options(tmp_path, hashed)
    buildout.run(wrapper_profile(buildout, options)).check()
    (wrapper,) = buildout.path("etc", "service").iterdir()
    before = os.stat(wrapper)
    # An option changed that does not change the script: zc.buildout
    # uninstalls the part, then installs it again.
    result = buildout.run(wrapper_profile(buildout, options + "wait-for-files =\n")).check()
    assert "Uninstalling service." in result.output and "Installing service." in result.output
    assert [p.name for p in buildout.path("etc", "service").iterdir()] == [wrapper.name]
    after = os.stat(wrapper)  # the same file, not deleted then written again
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert "removed" not in result.output and "created" not in result.output


@pytest.mark.parametrize("hashed", [False, True], ids=["plain", "hashed"])
def test_a_wrapper_a_renamed_part_writes_is_kept_until_it_is_replaced(buildout, tmp_path, hashed):
    """The renamed part's script differs (it names its part): zc.buildout
    uninstalls the old part first, and when the new one then fails (a full
    disk) the old wrapper is still there; when it succeeds, it replaces it."""
    options = service_options(tmp_path, hashed)
    buildout.run(wrapper_profile(buildout, options)).check()
    (wrapper,) = buildout.path("etc", "service").iterdir()
    old = wrapper.read_text()
    buildout.write(
        wrapper_profile(buildout, options, part="web").replace(
            f"wrapper-path = {buildout.path('etc', 'service', 'web')}\n",
            f"wrapper-path = {buildout.path('etc', 'service', 'service')}\n",
        )
    )
    failed = buildout.run_with(_disk_full)
    assert not failed.ok and "Uninstalling service." in failed.output
    assert "No space left on device" in failed.output
    assert [p.name for p in buildout.path("etc", "service").iterdir()] == [wrapper.name]
    assert wrapper.read_text() == old
    buildout.run().check()
    (new,) = buildout.path("etc", "service").iterdir()
    assert "for part [web]" in new.read_text()


# --- a user's value is one environment value, whatever line breaks it holds --------------


@pytest.mark.parametrize(
    "separator",
    ["\u2028", "\u2029", "\x85", "\x1c", "\x1d", "\x1e", "\v", "\f"],
    ids=lambda s: f"U+{ord(s):04X}",
)
def test_a_unicode_line_break_in_a_user_value_adds_no_environment_variable(
    buildout, tmp_path, separator
):
    record = tmp_path / "record.json"
    value = f"x{separator}LD_PRELOAD=/evil"
    parameters = tmp_path / "parameters.json"
    parameters.write_text(json.dumps({"a": value}))
    text = wrapper_profile(
        buildout,
        f"command-line = {PYTHON} {RECORD}\nenvironment =\n  RECORD_TO={record}\n  A=${{p:a}}",
    ).replace(
        "[directory]",
        f"[p]\nrecipe = slapkit:parameters\nparameters-file = {parameters}\na =\n\n[directory]",
    )
    buildout.run(text).check()
    result = run_wrapper(buildout.path("etc", "service", "service"))
    assert result.returncode == 0, result.stderr
    env = read_record(record)["env"]
    assert env["A"] == value
    assert "LD_PRELOAD" not in env
