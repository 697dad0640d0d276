"""slapkit:certificate_authority and certificate_authority.request through real
buildout, their service run for real (openssl signs), beside the cookbook's."""

from __future__ import annotations

import configparser
import hashlib
import os
import shutil
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from buildout_harness import BuildoutDir, snapshot, wait_until
from test_error_paths import error_in

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="needs the openssl program")


def profile(
    ca_recipe: str = "slapkit:certificate_authority",
    request_recipe: str = "slapkit:certificate_authority.request",
    request: str = "",
    parts: str = "directories ca request",
) -> str:
    return f"""
[buildout]
parts = {parts}

[directories]
recipe = slapkit:mkdirectory
bin = ${{buildout:directory}}/bin
etc = ${{buildout:directory}}/etc
root = ${{buildout:directory}}/srv/ssl
requests = ${{:root}}/requests
private = ${{:root}}/private
certs = ${{:root}}/certs
newcerts = ${{:root}}/newcerts
crl = ${{:root}}/crl

[ca]
recipe = {ca_recipe}
openssl-binary = {OPENSSL}
ca-dir = ${{directories:root}}
requests-directory = ${{directories:requests}}
wrapper = ${{directories:bin}}/certificate_authority
ca-private = ${{directories:private}}
ca-certs = ${{directories:certs}}
ca-newcerts = ${{directories:newcerts}}
ca-crl = ${{directories:crl}}

[request]
<= ca
recipe = {request_recipe}
key-file = ${{directories:etc}}/server.key
cert-file = ${{directories:etc}}/server.crt
executable = ${{directories:bin}}/server
wrapper = ${{directories:bin}}/server-with-certificate
{request}
"""


def digest(name: str) -> str:
    return hashlib.sha512(name.encode()).hexdigest()


def write_server(buildout: BuildoutDir) -> Path:
    """The program the request's wrapper runs: records that it ran."""
    server = buildout.path("bin", "server")
    server.parent.mkdir(exist_ok=True)
    server.write_text(f"#!/bin/sh\necho served > {buildout.path('served')}\n")
    server.chmod(0o755)
    return server


def run_service_until(buildout: BuildoutDir, *paths: Path) -> str:
    """Start the authority's service, wait until ``paths`` exist, stop it."""
    service = subprocess.Popen(
        [str(buildout.path("bin", "certificate_authority"))],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_until(lambda: all(p.exists() for p in paths), timeout=60), paths
    finally:
        service.send_signal(signal.SIGTERM)
        output, _ = service.communicate(timeout=30)
    return output


def subject_of(certificate: Path) -> str:
    return subprocess.run(
        [OPENSSL, "x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in", str(certificate)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_the_service_makes_the_authority_and_signs_the_request(buildout):
    write_server(buildout)
    buildout.run(profile()).check()
    etc = buildout.path("etc")
    ssl = buildout.path("srv", "ssl")
    # Before the authority has signed, the wrapper waits: the links dangle.
    key, certificate = etc / "server.key", etc / "server.crt"
    assert os.readlink(key) == str(ssl / "private" / f"{digest('request')}.key")
    assert os.readlink(certificate) == str(ssl / "certs" / f"{digest('request')}.crt")
    assert not certificate.exists()
    output = run_service_until(buildout, key, certificate)
    assert "signed a certificate for 'request'" in output, output
    verified = subprocess.run(
        [OPENSSL, "verify", "-CAfile", str(ssl / "cacert.pem"), str(certificate)],
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert subject_of(certificate).endswith("CN=request")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((ssl / "private" / "cakey.pem").stat().st_mode) == 0o600
    # The request's wrapper runs the program once both exist.
    subprocess.run([str(buildout.path("bin", "server-with-certificate"))], check=True, timeout=30)
    assert buildout.path("served").read_text() == "served\n"
    # Promise based: a second run rewrites nothing, the database included.
    before = snapshot(buildout.directory)
    buildout.run().check()
    assert snapshot(buildout.directory) == before


def test_a_name_cannot_add_a_field_to_the_subject(buildout):
    buildout.run(profile(request="name = a/CN=evil+O=other,x\\y")).check()
    etc = buildout.path("etc")
    run_service_until(buildout, etc / "server.crt")
    subject = subject_of(etc / "server.crt")
    # RFC 2253 shows the one common name with its + , and \\ escaped.
    assert subject.endswith(",C=XX,CN=a/CN=evil\\+O=other\\,x\\\\y"), subject
    assert subject.count(",O=") == 1


def test_a_lost_authority_is_made_anew_and_the_database_is_kept(buildout):
    buildout.run(profile()).check()
    ssl = buildout.path("srv", "ssl")
    run_service_until(buildout, buildout.path("etc", "server.crt"))
    index = (ssl / "index.txt").read_text()
    assert "CN=request" in index
    (ssl / "cacert.pem").unlink()
    buildout.run().check()
    assert (ssl / "index.txt").read_text() == index
    run_service_until(buildout, ssl / "cacert.pem")
    assert (ssl / "private" / "cakey.pem").exists()


def test_a_planted_request_writes_nothing_outside_the_authority(buildout, tmp_path):
    buildout.run(profile()).check()
    requests = buildout.path("srv", "ssl", "requests")
    outside = tmp_path / "outside"
    planted = requests / digest("planted")
    planted.write_text(
        f"[certificate]\nname = x\nkey_file = {outside}.key\ncertificate_file = {outside}.crt\n"
    )
    output = run_service_until(buildout, buildout.path("etc", "server.crt"))
    assert f"request {planted}: " in output and "is not a file of" in output, output
    assert not list(tmp_path.glob("outside*"))


def test_a_request_planted_as_a_fifo_or_link_does_not_hang_the_service(buildout, tmp_path):
    buildout.run(profile()).check()
    requests = buildout.path("srv", "ssl", "requests")
    os.mkfifo(requests / digest("fifo"))
    (tmp_path / "elsewhere").write_text("[certificate]\nname = y\n")
    (requests / digest("link")).symlink_to(tmp_path / "elsewhere")
    output = run_service_until(buildout, buildout.path("etc", "server.crt"))
    assert "not a regular file" in output, output
    assert "Too many levels of symbolic links" in output or "ELOOP" in output, output


def test_a_long_name_is_refused_before_anything_is_written(buildout):
    result = buildout.run(profile(request="name = " + "n" * 65))
    error_in(result, "[request] name: is 65 characters long")
    assert not buildout.path("srv").exists()


def test_a_path_openssl_would_expand_is_refused(buildout):
    result = buildout.run(profile().replace("/srv/ssl", "/srv/$HOME"))
    error_in(result, "[ca] ca-dir: ")
    assert "not written into openssl's configuration" in result.output
    assert not buildout.path("bin", "certificate_authority").exists()


def test_a_file_where_a_link_goes_is_an_error_and_is_kept(buildout):
    buildout.path("etc").mkdir()
    buildout.path("etc", "server.key").write_text("mine\n")
    result = buildout.run(profile())
    error_in(result, "[request] key-file: ")
    assert "exists and is not a symbolic link" in result.output
    assert buildout.path("etc", "server.key").read_text() == "mine\n"


def make_pair(directory: Path, name: str) -> tuple[str, str]:
    key, certificate = directory / f"{name}.key", directory / f"{name}.crt"
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}"]
        + ["-days", "2", "-keyout", str(key), "-out", str(certificate)],
        check=True,
        capture_output=True,
    )
    return key.read_text(), certificate.read_text()


def indented(text: str) -> str:
    return "\n  ".join(text.strip().splitlines())


def test_given_contents_are_used_and_the_key_is_never_saved(buildout, tmp_path):
    key, certificate = make_pair(tmp_path, "given")
    request = f"key-content =\n  {indented(key)}\ncert-content =\n  {indented(certificate)}\n"
    result = buildout.run(profile(request=request), "-vv").check()
    secret_line = key.strip().splitlines()[1]
    assert secret_line not in result.output
    assert secret_line not in buildout.path(".installed.cfg").read_text()
    etc = buildout.path("etc")
    assert (etc / "server.key").read_text().strip() == key.strip()
    assert (etc / "server.crt").read_text().strip() == certificate.strip()
    assert stat.S_IMODE((etc / "server.key").stat().st_mode) == 0o600
    # No request is left for the authority, no wrapper waits.
    assert list(buildout.path("srv", "ssl", "requests").iterdir()) == []
    assert not buildout.path("bin", "server-with-certificate").exists()


def test_a_key_of_another_certificate_is_refused_without_showing_it(buildout, tmp_path):
    key, _ = make_pair(tmp_path, "one")
    _, certificate = make_pair(tmp_path, "two")
    request = f"key-content =\n  {indented(key)}\ncert-content =\n  {indented(certificate)}\n"
    result = buildout.run(profile(request=request))
    error_in(result, "[request] key-content: does not match cert-content")
    assert key.strip().splitlines()[1] not in result.output
    assert not (buildout.path("etc") / "server.key").exists()


def test_one_content_without_the_other_is_refused(buildout, tmp_path):
    _, certificate = make_pair(tmp_path, "one")
    result = buildout.run(profile(request=f"cert-content =\n  {indented(certificate)}\n"))
    error_in(result, "[request] key-content: is required when cert-content is given")


def test_removing_the_request_removes_its_links_and_wrapper_and_keeps_the_key(buildout):
    buildout.run(profile()).check()
    key = buildout.path("srv", "ssl", "private", f"{digest('request')}.key")
    run_service_until(buildout, buildout.path("etc", "server.crt"))
    buildout.run(profile(parts="directories ca")).check()
    assert not os.path.lexists(buildout.path("etc", "server.key"))
    assert not os.path.lexists(buildout.path("etc", "server.crt"))
    assert not buildout.path("bin", "server-with-certificate").exists()
    assert not buildout.path("srv", "ssl", "requests", digest("request")).exists()
    assert key.exists()
    buildout.run(profile(parts="directories")).check()
    assert not buildout.path("bin", "certificate_authority").exists()
    assert buildout.path("srv", "ssl", "private", "cakey.pem").exists()


def test_the_cookbooks_request_and_ours_ask_for_the_same_files(buildout, tmp_path):
    pytest.importorskip("slapos.recipe.certificate_authority")
    buildout.run(profile()).check()
    theirs = BuildoutDir(tmp_path / "cookbook")
    theirs.directory.mkdir()
    theirs.run(
        profile(
            ca_recipe="slapos.cookbook:certificate_authority",
            request_recipe="slapos.cookbook:certificate_authority.request",
        )
    ).check()

    def asked(directory: Path) -> dict[str, str]:
        parser = configparser.RawConfigParser()
        parser.read(directory / "srv" / "ssl" / "requests" / digest("request"))
        return {
            key: value.replace(str(directory), "<partition>")
            for key, value in parser.items("certificate")
        }

    assert asked(buildout.directory) == asked(theirs.directory)
    for name in ("server.key", "server.crt"):
        ours = os.readlink(buildout.path("etc", name)).replace(str(buildout.directory), "")
        assert ours == os.readlink(theirs.path("etc", name)).replace(str(theirs.directory), "")
