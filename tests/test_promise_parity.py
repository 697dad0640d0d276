"""``slapkit:check_port_listening`` and ``slapkit:check_url_available``: the
cookbook's promises by their options. Each is built beside slapos.cookbook's
from the same options, and both checks are run against the same services:
they keep or break the promise together (the exit status, 0 or not, is what
slapgrid reads)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import stat
import subprocess

import pytest

from test_error_paths import error_in
from test_promise import self_signed_https_server


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def build(buildout, recipe: str, parts: dict[str, str]) -> None:
    text = "[buildout]\nparts = " + " ".join(parts) + "\n"
    for name, options in parts.items():
        text += f"[{name}]\nrecipe = {recipe}\npath = {buildout.path(name)}\n{options}\n"
    buildout.run(text).check()


def kept(buildout, name: str) -> bool:
    result = subprocess.run([str(buildout.path(name))], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 or result.stderr.strip(), "a broken promise says why"
    return result.returncode == 0


def test_check_port_listening_keeps_and_breaks_as_the_cookbooks(buildout):
    pytest.importorskip("slapos.recipe.librecipe", reason="compared with slapos.cookbook")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        parts = {
            "open": f"hostname = 127.0.0.1\nport = {port}",
            "closed": f"hostname = 127.0.0.1\nport = {closed_port()}",
        }
        for origin in ("slapos.cookbook", "slapkit"):
            build(buildout, f"{origin}:check_port_listening", parts)
            assert stat.S_IMODE(buildout.path("open").stat().st_mode) & 0o100
            assert (kept(buildout, "open"), kept(buildout, "closed")) == (True, False), origin
            buildout.run("[buildout]\nparts =\n").check()
            assert not os.path.exists(buildout.path("open"))  # removed with its part


def test_check_url_available_keeps_and_breaks_as_the_cookbooks(buildout, http_server):
    pytest.importorskip("slapos.recipe.librecipe", reason="compared with slapos.cookbook")
    tools = f"dash_path = {shutil.which('dash') or '/bin/sh'}\ncurl_path = {shutil.which('curl')}"
    parts = {
        "ok": f"url = {http_server}/\n{tools}",
        "redirected": f"url = {http_server}/moved\n{tools}",
        "missing": f"url = {http_server}/missing\n{tools}",
        "missing-expected": f"url = {http_server}/missing\nhttp_code = 404\n{tools}",
        "private": f"url = {http_server}/private\n{tools}",
        "private-secure": f"url = {http_server}/private\ncheck-secure = 1\n{tools}",
        "unreachable": f"url = http://127.0.0.1:{closed_port()}/\n{tools}",
    }
    expected = {
        "ok": True,
        "redirected": True,
        "missing": False,
        "missing-expected": True,
        "private": False,
        "private-secure": True,
        "unreachable": False,
    }
    for origin in ("slapos.cookbook", "slapkit"):
        if origin == "slapos.cookbook" and not shutil.which("curl"):
            continue
        build(buildout, f"{origin}:check_url_available", parts)
        assert {name: kept(buildout, name) for name in parts} == expected, origin
        buildout.run("[buildout]\nparts =\n").check()
        assert not os.path.exists(buildout.path("ok"))  # removed with its part


def test_check_url_available_does_not_verify_https_certificates_as_the_cookbooks(
    buildout, tmp_path
):
    """The cookbook's check runs ``curl -k``: a partition's self-signed
    certificate keeps the promise (slapkit's is checked without the
    cookbook too)."""
    origins = ["slapkit"]
    if shutil.which("curl") and importlib.util.find_spec("slapos.recipe.librecipe"):
        origins.insert(0, "slapos.cookbook")
    tools = f"dash_path = {shutil.which('dash') or '/bin/sh'}\ncurl_path = {shutil.which('curl')}"
    with self_signed_https_server(tmp_path) as url:
        for origin in origins:
            build(buildout, f"{origin}:check_url_available", {"c": f"url = {url}/\n{tools}"})
            assert kept(buildout, "c"), origin


def test_a_url_is_never_run_as_shell(buildout, tmp_path):
    # The cookbook's check puts the URL in a shell script unquoted.
    marker = tmp_path / "ran"
    url = f"http://127.0.0.1:{closed_port()}/$(touch$IFS{marker})"
    build(buildout, "slapkit:check_url_available", {"c": f"url = {url}"})
    assert not kept(buildout, "c")
    assert not marker.exists()


@pytest.mark.parametrize(
    "recipe, options, message",
    [
        ("check_port_listening", "hostname = 127.0.0.1", "[c] port: is required and was not given"),
        ("check_port_listening", "port = 80", "[c] hostname: is required and was not given"),
        ("check_port_listening", "hostname = a b\nport = 80", "[c] hostname: 'a b' is not a host"),
        (
            "check_url_available",
            "url = ftp://x/",
            "[c] url: 'ftp://x/' is not an http:// or https:// URL",
        ),
        (
            "check_url_available",
            "url = http://x/\nhttp_code = 99",
            "[c] http_code: 99 is less than 100",
        ),
        (
            "check_url_available",
            "url = http://x/\nhttp_code = 600",
            "[c] http_code: 600 is more than 599",
        ),
        (
            "check_url_available",
            "url = http://x/\ncheck-secure = yes",
            "[c] check-secure: 'yes' is neither 0 nor 1",
        ),
        (
            "check_url_available",
            "url = http://x/\ncert-file = c",
            "[c] cert-file: give both cert-file and key-file, or neither",
        ),
    ],
)
def test_bad_options_are_user_errors(buildout, recipe, options, message):
    error_in(
        buildout.run(
            f"[buildout]\nparts = c\n[c]\nrecipe = slapkit:{recipe}\npath = {buildout.path('c')}\n"
            f"{options}\n"
        ),
        message,
    )
    assert not os.path.lexists(buildout.path("c"))


def test_the_timeout_file_is_read(buildout, tmp_path):
    timeout = tmp_path / "timeout"
    timeout.write_text("3\n")
    build(
        buildout,
        "slapkit:check_url_available",
        {"c": f"url = http://127.0.0.1:1/\ntimeout-file-path = {timeout}"},
    )
    assert "timeout, certificate = 3.0, None" in buildout.path("c").read_text()
