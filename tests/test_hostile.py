"""Hostile parameters and planted files, through real buildout runs.

Each test is an attack that worked on slapkit 0.1.0 (a parameter name that
deleted a directory outside the partition, a value that added environment
variables or expanded into a password, a symlink chmod'ed through...), and
checks that it no longer does.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from buildout_harness import snapshot, wait_until
from test_wrapper import RECORD, read_record

PYTHON = sys.executable


def parameters_file(buildout, parameters: dict) -> Path:
    path = buildout.path("parameters.json")
    path.write_text(json.dumps(parameters))
    return path


def with_user(buildout, parameters: dict, parts: str, defaults: str = "") -> str:
    """The head of a profile: ``[buildout] parts`` and a ``[p]`` part of
    slapkit:parameters reading ``parameters`` over ``defaults`` (its lines)."""
    return (
        f"[buildout]\nparts = {parts}\n[p]\nrecipe = slapkit:parameters\n"
        f"parameters-file = {parameters_file(buildout, parameters)}\n{defaults}"
    )


# --- 1. parameter names --------------------------------------------------------

INJECTED_SECTION = "x\n[evil]\nrecipe = slapkit:mkdirectory\n__buildout_installed__ = {victim}\nz"
HOSTILE_NAMES = [
    "a=b",
    "a:b",
    "[section]",
    "__buildout_installed__",
    "__buildout_signature__",
    "<",
    "x\ny",
    " padded",
    "_private",
    "configuration.port",
    "parameters-json",
    "recipe",
    "$${x}",
    "${buildout:directory}",
    "a b",
    "%(here)s",
    "",
]


def test_a_parameter_name_never_becomes_buildout_syntax(buildout, tmp_path):
    victim = tmp_path / "outside" / "victim"
    victim.mkdir(parents=True)
    (victim / "data").write_text("precious")
    names = [INJECTED_SECTION.format(victim=victim)] + HOSTILE_NAMES
    params = parameters_file(buildout, {name: f"value {i}" for i, name in enumerate(names)})
    profile = f"""
[buildout]
parts = p config

[p]
recipe = slapkit:parameters
parameters-file = {params}
port = 8080

[config]
recipe = slapkit:jinja2
output = {buildout.path("config.json")}
context = jsonkey all p:parameters-json
  key port p:port
inline = {{{{ all | tojson }}}} {{{{ port }}}}
"""
    for _ in range(3):
        result = buildout.run(profile)
        result.check()
        assert "Uninstalling" not in result.output.replace("Uninstalling config.", "")
    everything, port = buildout.path("config.json").read_text().rsplit(" ", 1)
    assert port == "8080"  # "configuration.port" did not override anything
    assert json.loads(everything)["parameters-json"] == f"value {names.index('parameters-json')}"
    assert set(json.loads(everything)) == set(names) | {"port"}
    assert (victim / "data").read_text() == "precious"
    import zc.buildout.configparser

    with open(buildout.path(".installed.cfg")) as stream:
        installed = zc.buildout.configparser.parse(stream, ".installed.cfg")
    assert sorted(installed) == ["buildout", "config", "p"]
    assert all(is_plain(name) for name in installed["p"]), sorted(installed["p"])
    # unchanged input: the third run reinstalled nothing
    assert "Installing" not in result.output


def is_plain(name):
    import re

    return bool(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name))


def test_plain_parameter_names_are_options(buildout):
    buildout.run(
        with_user(buildout, {"ram-size": "2048", "my_opt.v2": "x", "Port9": "1"}, "config", "")
        + f"""
[config]
recipe = slapkit:jinja2
output = {buildout.path("out")}
inline = ${{p:ram-size}} ${{p:my_opt.v2}} ${{p:configuration.Port9}}
"""
    ).check()
    assert buildout.path("out").read_text() == "2048 x 1"


# --- 2. multi-line values and ${…} inside values --------------------------------


def test_a_multi_line_value_cannot_add_environment_variables(buildout, tmp_path):
    result = buildout.run(
        with_user(
            buildout,
            {"greeting": "hi\nLD_PRELOAD=/x/evil.so\nPATH=/x"},
            "service",
            "greeting = hello\n",
        )
        + f"""
[service]
recipe = slapkit:wrapper
command-line = {PYTHON} {RECORD}
environment = GREETING=${{p:greeting}}
wrapper-path = {buildout.path("service")}
"""
    )
    assert result.returncode == 1
    assert (
        "Error: [service] environment: a parameter value of several lines was "
        "substituted into this line-based option"
    ) in result.output
    assert not buildout.path("service").exists()


@pytest.mark.parametrize(
    "option, line",
    [
        ("wait-for-files", "${p:value}"),
        ("hash-files", "${p:value}"),
        ("hash-existing-files", "${p:value}"),
    ],
)
def test_a_multi_line_value_cannot_add_entries_to_a_wrapper_list(buildout, option, line):
    result = buildout.run(
        with_user(
            buildout,
            {"value": f"{buildout.directory}/a\n{buildout.directory}/b"},
            "service",
            "value = x\n",
        )
        + f"""
[service]
recipe = slapkit:wrapper
command-line = /bin/true
{option} = {line}
wrapper-path = {buildout.path("service")}
"""
    )
    assert result.returncode == 1
    assert f"Error: [service] {option}: a parameter value of several lines" in result.output


@pytest.mark.parametrize(
    "option, line",
    [
        ("context", "raw greeting ${p:value}"),
        ("import-list", "rawfile lib ${p:value}"),
    ],
)
def test_a_multi_line_value_cannot_add_template_context(buildout, option, line):
    result = buildout.run(
        with_user(buildout, {"value": "x\nimport os os"}, "config", "value = y\n")
        + f"""
[config]
recipe = slapkit:jinja2
output = {buildout.path("out")}
inline = hello
{option} = {line}
"""
    )
    assert result.returncode == 1
    assert f"Error: [config] {option}: a parameter value of several lines" in result.output
    assert not buildout.path("out").exists()


def test_a_multi_line_default_of_the_profile_still_expands(buildout, tmp_path):
    """The profile is trusted: its own multi-line values give several entries."""
    record = tmp_path / "record.json"
    buildout.run(f"""
[buildout]
parts = service
[p]
recipe = slapkit:parameters
extra =
  A=1
  B=2
[service]
recipe = slapkit:wrapper
command-line = {PYTHON} {RECORD}
environment =
  RECORD_TO={record}
  ${{p:extra}}
wrapper-path = {buildout.path("service")}
""").check()
    subprocess.run([str(buildout.path("service"))], check=True, timeout=30)
    env = read_record(record)["env"]
    assert (env["A"], env["B"]) == ("1", "2")


def test_a_reference_inside_a_value_is_never_substituted(buildout, tmp_path):
    """zc.buildout substitutes a cooked value a second time: a user's
    ${admin-password:passwd} would be expanded into the password."""
    record = tmp_path / "record.json"
    value = "${admin-password:passwd} ${buildout:directory} ${nosuch:option} $${x}"
    buildout.run(
        with_user(buildout, {"greeting": value}, "admin-password service", "greeting = hello\n")
        + f"""
[admin-password]
recipe = slapkit:generate.password
[chain]
greeting = ${{p:greeting}}
[service]
recipe = slapkit:wrapper
command-line = {PYTHON} {RECORD} ${{chain:greeting}}
environment =
  RECORD_TO={record}
  GREETING=${{chain:greeting}}
wrapper-path = {buildout.path("service")}
"""
    ).check()
    password = buildout.path("parts", "admin-password").read_text()
    assert password not in buildout.path("service").read_text()
    subprocess.run([str(buildout.path("service"))], check=True, timeout=30)
    recorded = read_record(record)
    assert recorded["env"]["GREETING"] == value
    assert recorded["argv"] == value.split()
    rerun = buildout.run().check()  # ${nosuch:option} does not wedge later runs
    assert "Installing" not in rerun.output


def greeting_argument_after_two_runs(buildout, tmp_path, parameters: dict) -> list[str]:
    """Deploy a wrapper taking ``${p:greeting}`` as its argument, twice (the
    rerun must install nothing); what the wrapped command received."""
    record = tmp_path / "record.json"
    profile = (
        with_user(buildout, parameters, "service", "greeting = hello\n")
        + f"""
[service]
recipe = slapkit:wrapper
command-line = {PYTHON} {RECORD}
arguments = ${{p:greeting}}
environment = RECORD_TO={record}
wrapper-path = {buildout.path("service")}
"""
    )
    buildout.run(profile).check()
    rerun = buildout.run().check()
    assert "Installing" not in rerun.output
    subprocess.run([str(buildout.path("service"))], check=True, timeout=30)
    argv: list[str] = read_record(record)["argv"]
    return argv


def test_a_carriage_return_in_a_value_never_wedges_later_runs(buildout, tmp_path):
    """Found by the fuzz: zc.buildout saved "\\r0" in .installed.cfg, then
    could not read it back, and every later run failed."""
    parameters = {"greeting": "hi\r\nthere\r0"}
    assert greeting_argument_after_two_runs(buildout, tmp_path, parameters) == ["hi\nthere\n0"]


def test_a_lone_surrogate_in_a_parameter_never_stops_buildout(buildout, tmp_path):
    """JSON carries "\\udc80"; UTF-8 cannot. zc.buildout failed to write
    .installed.cfg ("internal error") on this and every later run."""
    parameters = {"greeting": "hi-\udc80", "odd-\udc80": "x"}
    assert greeting_argument_after_two_runs(buildout, tmp_path, parameters) == ["hi-\ufffd"]
    # The name is left out of the options, kept (JSON-escaped) in parameters-json.
    assert '"odd-\\udc80": "x"' in buildout.path(".installed.cfg").read_text()


def test_arguments_take_one_value_as_exactly_one_argument(buildout, tmp_path):
    record = tmp_path / "record.json"
    value = "two words 'quoted' \"double\" $(id)\nsecond line --flag"
    buildout.run(
        with_user(buildout, {"greeting": value}, "service", "greeting = hello\n")
        + f"""
[service]
recipe = slapkit:wrapper
command-line = {PYTHON} {RECORD} --first
arguments =
  --greeting
  ${{p:greeting}}
  prefix-${{p:greeting}}-suffix
environment = RECORD_TO={record}
wrapper-path = {buildout.path("service")}
"""
    ).check()
    subprocess.run([str(buildout.path("service"))], check=True, timeout=30)
    assert read_record(record)["argv"] == ["--first", "--greeting", value, f"prefix-{value}-suffix"]


def test_a_value_in_command_line_is_split_like_a_shell_line(buildout, tmp_path):
    """As documented: command-line is substituted, then split."""
    record = tmp_path / "record.json"
    buildout.run(
        with_user(buildout, {"greeting": "two 'quoted words'"}, "service", "greeting = hello\n")
        + f"""
[service]
recipe = slapkit:wrapper
command-line = {PYTHON} {RECORD} ${{p:greeting}}
environment = RECORD_TO={record}
wrapper-path = {buildout.path("service")}
"""
    ).check()
    subprocess.run([str(buildout.path("service"))], check=True, timeout=30)
    assert read_record(record)["argv"] == ["two", "quoted words"]


# --- 3. chars -------------------------------------------------------------------


@pytest.mark.parametrize("chars", ["ab\n", "ab ", "a\tb", "ab\x07"])
def test_chars_with_blanks_or_controls_is_refused(buildout, chars):
    result = buildout.run(
        with_user(buildout, {"chars": chars}, "pw", "chars = x\n")
        + "[pw]\nrecipe = slapkit:generate.password\nbytes = 64\nchars = ${p:chars}\n"
    )
    assert result.returncode == 1
    assert "Error: [pw] chars: may hold no blank, line break or control character" in result.output
    assert not buildout.path("parts", "pw").exists()


# --- 5. temporaries a killed write left ----------------------------------------


def test_a_stale_temporary_of_a_wrapper_is_removed(buildout):
    profile = f"""
[buildout]
parts = service
[service]
recipe = slapkit:wrapper
command-line = /bin/true
wrapper-path = {buildout.path("etc", "service", "web")}
"""
    buildout.path("etc", "service").mkdir(parents=True)
    buildout.run(profile).check()
    stale = buildout.path("etc", "service", ".web.abcd_123.tmp")
    stale.write_text(buildout.path("etc", "service", "web").read_text())
    stale.chmod(0o750)
    other = buildout.path("etc", "service", ".other.abcd_123.tmp")  # not this part's
    other.write_text("x")
    result = buildout.run().check()
    assert not stale.exists()
    assert other.exists()
    assert f"service: removed stale temporary {stale}" in result.output


def test_a_stale_temporary_of_an_older_digest_is_removed(buildout, tmp_path):
    config = tmp_path / "conf"
    config.write_text("a")
    service = buildout.path("etc", "service")
    service.mkdir(parents=True)
    buildout.run(
        f"[buildout]\nparts = web\n[web]\nrecipe = slapkit:wrapper\n"
        f"command-line = /bin/true\nwrapper-path = {service}/web\nhash-files = {config}\n"
    ).check()
    stale = service / ".web-0123456789abcdef.abcd1234.tmp"  # a digest no longer made
    stale.write_text("#!/bin/sh\n")
    neighbour = service / ".web-site.abcd1234.tmp"  # another wrapper's
    neighbour.write_text("")
    config.write_text("b")
    buildout.run().check()
    assert not stale.exists() and neighbour.exists()
    assert len([p for p in service.iterdir() if not p.name.startswith(".")]) == 1


def test_a_stale_temporary_of_a_password_is_removed(buildout):
    buildout.run("[buildout]\nparts = pw\n[pw]\nrecipe = slapkit:generate.password\n").check()
    stale = buildout.path("parts", ".pw.zzzzzzzz.tmp")
    stale.write_text("half")
    buildout.run().check()
    assert not stale.exists()


# --- 6. one wrapper per part -----------------------------------------------------


def test_turning_hash_files_on_and_off_leaves_exactly_one_wrapper(buildout, tmp_path):
    config = tmp_path / "conf"
    config.write_text("a")
    service = buildout.path("etc", "service")
    service.mkdir(parents=True)

    def profile(options):
        return (
            f"[buildout]\nparts = web\n[web]\nrecipe = slapkit:wrapper\n"
            f"command-line = /bin/true\nwrapper-path = {service}/web\n{options}"
        )

    sequence = [
        "",
        f"hash-files = {config}",
        "",
        f"hash-existing-files = {config}",
        f"hash-files = {config}",
        "environment = A=1",
        f"hash-files = {config}",
    ]
    for options in sequence:
        buildout.run(profile(options)).check()
        names = sorted(p.name for p in service.iterdir())
        assert len(names) == 1, (options, names)
        assert (names[0] == "web") == (options.startswith("hash") is False)
    # a new wrapper-path: the old one goes too
    buildout.run(
        profile(f"hash-files = {config}").replace(f"{service}/web", f"{service}/site")
    ).check()
    assert [p.name[:5] for p in service.iterdir()] == ["site-"]


# --- 7, 8. secrets that reach the parameters part ----------------------------------


def test_a_generated_password_as_a_parameter_default_stays_secret(buildout):
    result = buildout.run(
        f"""
[buildout]
parts = config
[admin-password]
recipe = slapkit:generate.password
[p]
recipe = slapkit:parameters
admin-password = ${{admin-password:passwd}}
[config]
recipe = slapkit:jinja2
output = {buildout.path("out")}
context = key pw p:admin-password
  key pw2 p:configuration.admin-password
  jsonkey all p:parameters-json
inline = {{{{ pw }}}} {{{{ pw2 }}}} {{{{ all['admin-password'] }}}}
""",
        "-vv",
    ).check()
    password = buildout.path("parts", "admin-password").read_text()
    assert buildout.path("out").read_text() == f"{password} {password} {password}"
    assert password not in buildout.path(".installed.cfg").read_text()
    assert password not in result.output


WRITE_ONLY_SCHEMA = {
    "type": "object",
    "properties": {
        "db": {
            "type": "object",
            "properties": {
                "password": {"type": "string", "writeOnly": True, "minLength": 12},
                "port": {"type": "integer"},
            },
        },
        "pin": {"type": "integer", "writeOnly": True, "maximum": 99999999},
        "tokens": {"type": "array", "items": {"type": "string", "writeOnly": True}},
    },
}


def write_only_profile(buildout, parameters):
    schema = buildout.path("schema.json")
    schema.write_text(json.dumps(WRITE_ONLY_SCHEMA))
    return (
        with_user(buildout, parameters, "config", f"schema = {schema}\n")
        + f"""
[config]
recipe = slapkit:jinja2
output = {buildout.path("out")}
context = jsonkey all p:parameters-json
inline = {{{{ all | tojson }}}}
"""
    )


def test_write_only_values_at_any_depth_and_of_any_type_stay_secret(buildout):
    parameters = {
        "db": {"password": "nested-secret-value", "port": "5432"},
        "pin": "73914482",
        "tokens": ["token-secret-one"],
    }
    result = buildout.run(write_only_profile(buildout, parameters), "-vv").check()
    rendered = json.loads(buildout.path("out").read_text())
    assert rendered["db"]["password"] == "nested-secret-value" and rendered["pin"] == 73914482
    installed = buildout.path(".installed.cfg").read_text()
    for secret in ("nested-secret-value", "73914482", "token-secret-one"):
        assert secret not in installed
        assert secret not in result.output


def test_write_only_values_are_never_quoted_in_errors(buildout):
    parameters = {
        "db": {"password": "shortpw", "port": "x"},
        "pin": "123456789",
        "tokens": "not-a-list-secret",
    }
    result = buildout.run(write_only_profile(buildout, parameters))
    assert result.returncode == 1
    for secret in ("shortpw", "123456789", "not-a-list-secret"):
        assert secret not in result.output
    assert "db/password: the value (hidden: writeOnly) fails 'minLength'" in result.output
    assert "pin: the value (hidden: writeOnly) fails 'maximum'" in result.output
    assert "db/port: 'x' is not of type 'integer'" in result.output


# --- 9. a salted digest ------------------------------------------------------------


def test_the_digest_of_a_hashed_wrapper_is_salted_per_partition(buildout, tmp_path):
    import hashlib

    config = tmp_path / "conf"
    config.write_text("x")
    profile = f"""
[buildout]
parts = web
[admin]
recipe = slapkit:generate.password
bytes = 4
[web]
recipe = slapkit:wrapper
command-line = /bin/true
environment = PASSWORD=${{admin:passwd}}
wrapper-path = {buildout.path("web")}
hash-files = {config}
"""
    buildout.run(profile).check()
    (wrapper,) = buildout.directory.glob("web-*")
    salt = buildout.path(".slapkit", "salt")
    assert stat.S_IMODE(salt.stat().st_mode) == 0o600
    assert stat.S_IMODE(buildout.path(".slapkit").stat().st_mode) == 0o700
    # the unsalted digest a word list would try
    script = wrapper.read_text()
    unsalted = hashlib.sha256(script.encode())
    unsalted.update(b"\0%d\0" % 1 + b"x")
    assert wrapper.name != f"web-{unsalted.hexdigest()[:16]}"
    before = snapshot(buildout.directory)
    buildout.run().check()
    assert snapshot(buildout.directory) == before  # stable: the salt is made once


# --- 10. symlinks planted in the partition -------------------------------------------


def test_mode_is_never_applied_through_a_planted_symlink(buildout, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("rendered")  # the same content: only the mode would change
    outside.chmod(0o644)
    output = buildout.path("config")
    output.symlink_to(outside)
    buildout.run(f"""
[buildout]
parts = config
[config]
recipe = slapkit:jinja2
output = {output}
mode = 0600
inline = rendered
""").check()
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644
    assert outside.read_text() == "rendered"
    assert not output.is_symlink() and output.read_text() == "rendered"
    assert stat.S_IMODE(output.stat().st_mode) == 0o600


def test_a_password_is_never_read_through_a_planted_symlink(buildout, tmp_path):
    outside = tmp_path / "shadow"
    outside.write_text("root-secret")
    buildout.path("parts").mkdir()
    buildout.path("parts", "pw").symlink_to(outside)
    buildout.run(f"""
[buildout]
parts = config
[pw]
recipe = slapkit:generate.password
[config]
recipe = slapkit:jinja2
output = {buildout.path("out")}
context = key pw pw:passwd
inline = {{{{ pw }}}}
""").check()
    assert buildout.path("out").read_text() != "root-secret"
    assert outside.read_text() == "root-secret"


# --- 11. pidfile ------------------------------------------------------------------


def pidfile_wrapper(buildout, tmp_path):
    """A service under a pidfile that writes its record once it runs (the
    wrapper has taken the pidfile and exec'd it), then runs until killed."""
    pidfile = tmp_path / "service.pid"
    record = tmp_path / "record.json"
    buildout.run(f"""
[buildout]
parts = service
[service]
recipe = slapkit:wrapper
command-line = {PYTHON} {RECORD}
environment =
  RECORD_TO={record}
  RECORD_SLEEP=600
pidfile = {pidfile}
wrapper-path = {buildout.path("service")}
""").check()
    return buildout.path("service"), pidfile, record


def test_two_wrappers_started_at_once_never_both_run(buildout, tmp_path):
    wrapper, pidfile, record = pidfile_wrapper(buildout, tmp_path)
    for attempt in range(10):
        record.unlink(missing_ok=True)
        pair = [subprocess.Popen([str(wrapper)], stderr=subprocess.PIPE) for _ in range(2)]
        try:
            # Both events are awaited, however slow the machine: one copy is
            # refused (it exits), the other one runs the service (which
            # writes its record, and runs until killed). Two copies running
            # would never exit: the wait ends at its deadline, and fails.
            exited = wait_until(lambda pair=pair: [p for p in pair if p.poll() is not None])
            assert len(exited) == 1, f"attempt {attempt}: {2 - len(exited)} copies run"
            (refused,) = exited
            assert refused.returncode == 1
            assert b"already running as pid" in refused.stderr.read()
            (running,) = [p for p in pair if p is not refused]
            assert read_record(record, timeout=30)["pid"] == running.pid
            assert running.poll() is None
        finally:
            for process in pair:
                process.kill()
                process.wait()
                if process.stderr:
                    process.stderr.close()


def test_a_recycled_pid_in_the_pidfile_does_not_block_the_start(buildout, tmp_path):
    wrapper, pidfile, record = pidfile_wrapper(buildout, tmp_path)
    pidfile.write_text(f"{os.getpid()}\n")  # alive, and not the service
    process = subprocess.Popen([str(wrapper)])
    try:
        # The service's record says it started (a refusal would exit instead).
        assert read_record(record, timeout=30)["pid"] == process.pid
        assert process.poll() is None
        assert int(pidfile.read_text()) == process.pid
    finally:
        process.kill()
        process.wait()


def test_a_symlink_planted_at_the_pidfile_is_not_written_through(buildout, tmp_path):
    wrapper, pidfile, record = pidfile_wrapper(buildout, tmp_path)
    target = tmp_path / "target"
    target.write_text("keep")
    pidfile.symlink_to(target)
    tmp = Path(str(pidfile) + ".tmp")
    tmp.symlink_to(target)  # where 0.1.0 wrote first
    process = subprocess.Popen([str(wrapper)])
    try:
        # The pidfile is written before the service starts: its record is
        # the event after which a write through the link would have happened.
        assert read_record(record, timeout=30)["pid"] == process.pid
        assert target.read_text() == "keep"
        assert int(pidfile.read_text()) == process.pid
    finally:
        process.kill()
        process.wait()


def test_a_hard_link_or_a_fifo_planted_at_the_pidfile_is_not_written_through(buildout, tmp_path):
    wrapper, pidfile, record = pidfile_wrapper(buildout, tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("keep")
    for plant in (lambda: os.link(victim, pidfile), lambda: os.mkfifo(pidfile)):
        pidfile.unlink(missing_ok=True)
        record.unlink(missing_ok=True)
        plant()
        process = subprocess.Popen([str(wrapper)])
        try:
            assert read_record(record, timeout=30)["pid"] == process.pid
            assert victim.read_text() == "keep"
            assert pidfile.is_file() and pidfile.stat().st_nlink == 1
            assert int(pidfile.read_text()) == process.pid
        finally:
            process.kill()
            process.wait()


# --- every user mistake is a UserError --------------------------------------------------


def one_error(result, expected):
    assert result.returncode == 1, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    assert f"Error: {expected}" in result.output, result.output


@pytest.mark.parametrize(
    "content, expected",
    [
        (b'{"x": "\xff"}', "[p] parameters-file: '{path}' is not UTF-8 text"),
        (
            b"[" * 5000 + b"]" * 5000,
            "[p] parameters-file: the parameters nest deeper than 64 levels",
        ),
        (
            json.dumps({"x": [[[[]]]] * 1} | {"deep": json.loads("[" * 70 + "]" * 70)}).encode(),
            "[p] parameters-file: the parameters nest deeper than 64 levels",
        ),
        (b'{"_": "' + b"[" * 3000 + b'"}', "[p] parameters-file: the '_' parameter: "),
    ],
)
def test_bad_parameter_files_are_user_errors(buildout, content, expected):
    path = buildout.path("params.json")
    path.write_bytes(content)
    one_error(
        buildout.run(
            f"[buildout]\nparts = p\n[p]\nrecipe = slapkit:parameters\nparameters-file = {path}\n"
        ),
        expected.format(path=path),
    )


@pytest.mark.parametrize(
    "ref, expected",
    [
        ("missing.json", "[p] schema: cannot resolve a $ref"),
        ("http://example.invalid/schema.json", "[p] schema: cannot resolve a $ref"),
    ],
)
def test_a_schema_ref_that_cannot_be_resolved_is_a_user_error(buildout, ref, expected):
    schema = buildout.path("schema.json")
    schema.write_text(json.dumps({"type": "object", "properties": {"x": {"$ref": ref}}}))
    params = parameters_file(buildout, {"x": "1"})
    one_error(
        buildout.run(
            f"[buildout]\nparts = p\n[p]\nrecipe = slapkit:parameters\n"
            f"parameters-file = {params}\nschema = {schema}\n"
        ),
        expected,
    )


def test_a_password_file_not_utf8_is_a_user_error(buildout):
    buildout.path("parts").mkdir()
    buildout.path("parts", "pw").write_bytes(b"\xff\xfe")
    one_error(
        buildout.run("[buildout]\nparts = pw\n[pw]\nrecipe = slapkit:generate.password\n"),
        f"[pw] storage-path: '{buildout.path('parts', 'pw')}' does not hold a UTF-8 password",
    )
    assert buildout.path("parts", "pw").read_bytes() == b"\xff\xfe"


def test_hashes_with_values_that_are_not_strings_are_made_again(buildout):
    profile = (
        f"[buildout]\nparts = out\n[pw]\nrecipe = slapkit:generate.password\n"
        f"[out]\nrecipe = slapkit:jinja2\noutput = {buildout.path('out')}\n"
        "context = key h pw:passwd-sha256-crypt\ninline = {{ h }}\n"
    )
    buildout.run(profile).check()
    hashes = buildout.path("parts", "pw.hashes")
    data = json.loads(hashes.read_text())
    data["hashes"]["sha256-crypt"] = 42
    hashes.write_text(json.dumps(data))
    buildout.run().check()
    assert buildout.path("out").read_text().startswith("$5$")


def test_a_local_connection_record_holding_a_list_is_replaced(buildout):
    buildout.path(".slapkit").mkdir()
    record = buildout.path(".slapkit", "connection.json")
    record.write_text("[1, 2]")
    buildout.run("[buildout]\nparts = pub\n[pub]\nrecipe = slapkit:publish\nurl = x\n").check()
    assert json.loads(record.read_text()) == {"url": "x"}


def test_a_local_connection_record_that_cannot_be_written_names_connection_section(buildout):
    buildout.path(".slapkit").mkdir()
    buildout.path(".slapkit", "connection.json").mkdir()  # a directory where the file goes
    result = buildout.run("[buildout]\nparts = pub\n[pub]\nrecipe = slapkit:publish\nurl = x\n")
    one_error(result, "[pub] connection-section: no master: cannot write")


@pytest.mark.parametrize(
    "options, expected",
    [
        ("extensions = .", "[t] extensions: cannot load '.'"),
        ("extensions = jinja2", "[t] extensions: cannot load 'jinja2'"),
        (
            "context = import m .foo",
            "[t] context: cannot import '.foo': give an absolute module name",
        ),
        (
            "encoding = idna\ninline = {{ 'a' * 100 }}",
            "[t] encoding: cannot encode the output in idna",
        ),
        ("output = /tmp/a\x01b", "[t] output: '/tmp/a\\x01b' is not a usable path"),
    ],
)
def test_template_mistakes_are_user_errors(buildout, options, expected):
    base = {"output": str(buildout.path("out")), "inline": "hello"}
    lines = dict(line.split(" = ", 1) for line in options.split("\n"))
    base.update(lines)
    text = "[buildout]\nparts = t\n[t]\nrecipe = slapkit:jinja2\n" + "".join(
        f"{k} = {v}\n" for k, v in base.items()
    )
    buildout.path("buildout.cfg").write_bytes(text.encode())
    one_error(buildout.run(), expected)
    assert not buildout.path("out").exists()


@pytest.mark.parametrize("option", ["wrapper-path", "pidfile", "hash-files"])
def test_a_nul_byte_in_a_path_is_a_user_error(buildout, option):
    options = {
        "command-line": "/bin/true",
        "wrapper-path": str(buildout.path("w")),
        option: "${p:value}",
    }
    one_error(
        buildout.run(
            with_user(buildout, {"value": "/tmp/a\x00b"}, "w", "value = x\n")
            + "[w]\nrecipe = slapkit:wrapper\n"
            + "".join(f"{k} = {v}\n" for k, v in options.items())
        ),
        f"[w] {option}: '/tmp/a\\x00b' is not a usable path",
    )


def test_a_nul_byte_in_a_command_line_is_a_user_error(buildout):
    one_error(
        buildout.run(
            with_user(buildout, {"value": "a\x00b"}, "w", "value = x\n")
            + f"[w]\nrecipe = slapkit:wrapper\ncommand-line = /bin/echo ${{p:value}}\n"
            f"wrapper-path = {buildout.path('w')}\n"
        ),
        "[w] command-line: holds a NUL byte",
    )


@pytest.mark.parametrize(
    "name, expected",
    [
        (
            "web]\n[program:evil]\ncommand=touch PWNED",
            "is not a usable path: it holds the control character",
        ),
        ("web %(here)s", "'web %(here)s' cannot be a program name"),
        ("web:x", "'web:x' cannot be a program name"),
        (".hidden", "'.hidden' cannot be a program name"),
    ],
)
def test_a_wrapper_name_supervisord_cannot_take_is_a_user_error(buildout, name, expected):
    one_error(
        buildout.run(
            with_user(buildout, {"name": name}, "w", "name = x\n")
            + f"[w]\nrecipe = slapkit:wrapper\ncommand-line = /bin/true\n"
            f"wrapper-path = {buildout.path('etc')}/${{p:name}}\n"
        ),
        "[w] wrapper-path: ",
    )
    assert expected in buildout.run().output


def test_a_url_promise_with_control_characters_is_a_user_error(buildout):
    one_error(
        buildout.run(
            with_user(buildout, {"url": "http://127.0.0.1/\nevil"}, "pr", "url = x\n")
            + f"[pr]\nrecipe = slapkit:promise\npromise-path = {buildout.path('pr')}\nurl = ${{p:url}}\n"
        ),
        "[pr] url: 'http://127.0.0.1/\\nevil' holds a blank or a control character",
    )


def test_once_in_a_directory_an_earlier_part_makes_works_on_the_first_run(buildout):
    buildout.run(f"""
[buildout]
parts = directory config
[directory]
recipe = slapkit:mkdirectory
state = {buildout.path("var", "state")}
[config]
recipe = slapkit:jinja2
output = {buildout.path("out")}
once = ${{directory:state}}/config-done
inline = made once
""").check()
    assert buildout.path("var", "state", "config-done").exists()
    assert buildout.path("out").read_text() == "made once"


# --- what zc.buildout saves of a user's value -------------------------------------------


@pytest.mark.parametrize("value", ["\x1f", "x\t", "\u2028y", " spaced ", "a\n\tb"])
def test_a_value_buildout_would_read_back_otherwise_changes_nothing_on_rerun(buildout, value):
    # zc.buildout strips some characters when it reads .installed.cfg back:
    # the part then differed from its saved self and reinstalled every run.
    text = with_user(buildout, {"v": value}, "p", "v = default")
    buildout.run(text).check()
    second = buildout.run().check()
    assert "Uninstalling" not in second.output and "Installing" not in second.output, second.output


def test_a_saved_user_value_is_never_substituted_when_another_part_reinstalls(buildout):
    # The value reached a wrapper; .installed.cfg holds it as "${x:y}". When
    # another part reinstalls, zc.buildout reads every saved part back: the
    # saved value was substituted, failed, and left .installed.cfg empty.
    text = with_user(buildout, {"greeting": "${x:y}"}, "p service", "greeting = hello") + (
        f"\n[service]\nrecipe = slapkit:wrapper\ncommand-line = /bin/echo\n"
        f"arguments = ${{p:greeting}}\nwrapper-path = {buildout.path('service')}\n"
    )
    buildout.run(text).check()
    assert "${x:y}" in buildout.path(".installed.cfg").read_text()
    result = buildout.run(text.replace("greeting = hello", "greeting = hello\nmore = 1")).check()
    assert "Installing p" in result.output
    assert "[service]" in buildout.path(".installed.cfg").read_text()
    assert buildout.path("service").read_text().endswith("exec '/bin/echo' '${x:y}'\n")
    buildout.run().check()
