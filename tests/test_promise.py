import socket
import stat
import subprocess

import pytest


def profile(buildout, options: str) -> str:
    return f"""
[buildout]
parts = check

[check]
recipe = slapkit:promise
promise-path = {buildout.path("check")}
{options}
"""


def run_check(buildout):
    return subprocess.run([str(buildout.path("check"))], capture_output=True, text=True, timeout=30)


@pytest.fixture
def listening_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_port_promise(buildout, listening_port):
    buildout.run(profile(buildout, f"port = {listening_port}")).check()
    check = buildout.path("check")
    assert stat.S_IMODE(check.stat().st_mode) == 0o750
    assert run_check(buildout).returncode == 0


def test_port_promise_failing_says_why_in_one_line(buildout):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    buildout.run(profile(buildout, f"port = {port}")).check()
    result = run_check(buildout)
    assert result.returncode == 1
    assert result.stderr.startswith(f"nothing listens on 127.0.0.1:{port}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_url_promise(buildout, http_server):
    buildout.run(profile(buildout, f"url = {http_server}/")).check()
    assert run_check(buildout).returncode == 0
    buildout.run(profile(buildout, f"url = {http_server}/missing")).check()
    result = run_check(buildout)
    assert result.returncode == 1
    assert result.stderr.strip() == f"GET {http_server}/missing answered 404, expected 200"
    buildout.run(profile(buildout, f"url = {http_server}/missing\nstatus = 404")).check()
    assert run_check(buildout).returncode == 0


def test_path_promise(buildout, tmp_path):
    target = tmp_path / "ready"
    buildout.run(profile(buildout, f"path = {target}")).check()
    result = run_check(buildout)
    assert (result.returncode, result.stderr.strip()) == (1, f"{target} does not exist")
    target.write_text("")
    assert run_check(buildout).returncode == 0


def test_values_are_not_code(buildout, tmp_path):
    sentinel = tmp_path / "sentinel"
    buildout.run(profile(buildout, f"path = x'); open({str(sentinel)!r}, 'w'); ('")).check()
    run_check(buildout)
    assert not sentinel.exists()


@pytest.mark.parametrize(
    "options, message",
    [
        ("", "[check] promise-path: give exactly one of 'port', 'url' and 'path'"),
        ("port = 1\npath = /x", "[check] path: give exactly one of 'port', 'url' and 'path'"),
        ("port = http", "[check] port: 'http' is not a whole number"),
        ("port = 70000", "[check] port: 70000 is more than 65535"),
        ("url = ftp://x/", "[check] url: 'ftp://x/' is not an http:// or https:// URL"),
    ],
)
def test_bad_input(buildout, options, message):
    result = buildout.run(profile(buildout, options))
    assert result.returncode != 0
    assert f"Error: {message}" in result.output
    assert not buildout.path("check").exists()
