"""slapkit:check_parameter through real buildout, beside the cookbook's."""

import json
import subprocess

import pytest

from buildout_harness import snapshot
from test_error_paths import error_in

CASES = [
    ("expected-type = ipv4", "10.0.0.1", 0),
    ("expected-type = ipv4", "10.0.0.256", 127),
    ("expected-type = ipv4", "fe80::1", 127),
    ("expected-type = ipv6", "fe80::1", 0),
    ("expected-type = ipv6", "10.0.0.1", 127),
    ("expected-type = ipv6", "", 127),
    ("expected-value = on", "on", 0),
    ("expected-value = on", "off", 127),
    ("expected-not-value = off", "on", 0),
    ("expected-not-value = off", "off", 127),
    ("expected-value =", "anything", 0),
]


def profile(recipe: str, cases) -> str:
    parts = " ".join(f"p{i}" for i in range(len(cases)))
    text = f"[buildout]\nparts = {parts}\n"
    for i, (constraint, value, _) in enumerate(cases):
        text += (
            f"[p{i}]\nrecipe = {recipe}\npath = ${{buildout:directory}}/promise-{i}\n"
            f"value = {value}\n{constraint}\n"
        )
    return text


def run(path) -> subprocess.CompletedProcess:
    return subprocess.run([str(path)], capture_output=True, text=True, timeout=30)


def test_promises_exit_as_the_cookbooks_do(buildout, tmp_path):
    buildout.run(profile("slapkit:check_parameter", CASES)).check()
    for i, (_, _, status) in enumerate(CASES):
        assert run(buildout.path(f"promise-{i}")).returncode == status, CASES[i]
    failing = run(buildout.path("promise-7"))
    assert failing.stdout == "FAIL: off != on\n"
    before = snapshot(buildout.directory)
    buildout.run().check()
    assert snapshot(buildout.directory) == before

    pytest.importorskip("slapos.recipe.check_parameter")
    from buildout_harness import BuildoutDir

    theirs = BuildoutDir(tmp_path / "cookbook")
    theirs.directory.mkdir()
    theirs.run(profile("slapos.cookbook:check_parameter", CASES)).check()
    # Kept or failing alike. (The cookbook's IPv4 promise fails with exit 1,
    # a NameError, where it means 127: it calls sys.exit without importing sys.)
    for i in range(len(CASES)):
        assert (run(theirs.path(f"promise-{i}")).returncode == 0) == (
            run(buildout.path(f"promise-{i}")).returncode == 0
        ), CASES[i]


def test_a_hostile_value_is_data_in_the_promise(buildout, tmp_path):
    """The cookbook writes an ipv4/ipv6 value into Python source; a quote in a
    user's value would be code there. Here the verdict is written, never the
    value as code; its message shows it on one line."""
    marker = tmp_path / "ran"
    hostile = f'1.2.3.4"; import os; os.system("touch {marker}"); "'
    parameters = buildout.path("parameters.json")
    parameters.write_text(json.dumps({"address": hostile, "word": f"x\ny $(touch {marker})"}))
    buildout.run(
        f"[buildout]\nparts = a b\n"
        f"[p]\nrecipe = slapkit:parameters\nparameters-file = {parameters}\naddress =\nword =\n"
        "[a]\nrecipe = slapkit:check_parameter\npath = ${buildout:directory}/a\n"
        "value = ${p:address}\nexpected-type = ipv4\n"
        "[b]\nrecipe = slapkit:check_parameter\npath = ${buildout:directory}/b\n"
        "value = ${p:word}\nexpected-value = y\n"
    ).check()
    for name in ("a", "b"):
        result = run(buildout.path(name))
        assert result.returncode == 127
        assert len(result.stdout.splitlines()) == 1, result.stdout
    assert not marker.exists()


@pytest.mark.parametrize(
    "options, message",
    [
        ("value = x\nexpected-type = ipv5", "[c] expected-type: 'ipv5' is neither ipv4 nor ipv6"),
        ("value = x", "[c] path: is required and was not given"),
    ],
)
def test_bad_options_are_user_errors(buildout, options, message):
    options = options if "path" in message else options + "\npath = ${buildout:directory}/c"
    error_in(
        buildout.run(f"[buildout]\nparts = c\n[c]\nrecipe = slapkit:check_parameter\n{options}\n"),
        message,
    )
    assert not buildout.path("c").exists()


def test_a_secret_is_never_in_the_promises_message(buildout):
    buildout.run(
        "[buildout]\nparts = c\n"
        "[pw]\nrecipe = slapkit:generate.password\nstorage-path = ${buildout:directory}/pw\n"
        "[c]\nrecipe = slapkit:check_parameter\npath = ${buildout:directory}/c\n"
        "value = ${pw:passwd}\nexpected-not-value = ${pw:passwd}\n"
    ).check()
    password = buildout.path("pw").read_text().strip()
    result = run(buildout.path("c"))
    assert result.returncode == 127
    assert result.stdout == "FAIL: (a secret, not shown) == (a secret, not shown)\n"
    assert password not in buildout.path("c").read_text()
