import contextlib
import http.server
import shutil
import socket
import ssl
import stat
import subprocess
import threading

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
        ("port = 0", "[check] port: 0 is less than 1"),
        ("port = 70000", "[check] port: 70000 is more than 65535"),
        ("url = ftp://x/", "[check] url: 'ftp://x/' is not an http:// or https:// URL"),
        ("url = http://x/a b", "[check] url: 'http://x/a b' holds a blank or a control character"),
        ("url = http://x/\nstatus = 99", "[check] status: 99 is less than 100"),
        ("url = http://x/\nstatus = 600", "[check] status: 600 is more than 599"),
    ],
)
def test_bad_input(buildout, options, message):
    result = buildout.run(profile(buildout, options))
    assert result.returncode != 0
    assert f"Error: {message}" in result.output
    assert not buildout.path("check").exists()


def test_the_bounds_of_port_and_status_are_accepted(buildout):
    buildout.run(profile(buildout, "port = 1")).check()
    assert "host, port = '127.0.0.1', 1\n" in buildout.path("check").read_text()
    for status in (100, 599):
        buildout.run(profile(buildout, f"url = http://127.0.0.1:1/\nstatus = {status}")).check()
        assert f"url, expected, also_kept = 'http://127.0.0.1:1/', {status}, ()" in (
            buildout.path("check").read_text()
        )


def test_a_promise_is_removed_with_its_part(buildout, tmp_path):
    buildout.run(profile(buildout, f"path = {tmp_path}")).check()
    assert buildout.path("check").exists()
    buildout.run("[buildout]\nparts =\n").check()
    assert not buildout.path("check").exists()


@contextlib.contextmanager
def self_signed_https_server(directory):
    """An HTTPS server on 127.0.0.1 answering 200 to every GET, with a
    certificate no one signed (a partition's own, as often)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs openssl to make a certificate")
    cert, key = directory / "server.crt", directory / "server.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", str(key)]
        + ["-out", str(cert)],
        check=True,
        capture_output=True,
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_an_https_promise_verifies_the_certificate(buildout, tmp_path):
    """slapkit:promise checks the server's certificate as any client would:
    one no one signed breaks the promise (check_url_available, the cookbook's
    drop-in, does not: test_promise_parity.py)."""
    with self_signed_https_server(tmp_path) as url:
        buildout.run(profile(buildout, f"url = {url}/")).check()
        result = run_check(buildout)
    assert result.returncode == 1
    assert result.stderr.startswith(f"GET {url}/ failed: ")
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr
