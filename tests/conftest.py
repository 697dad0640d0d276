from __future__ import annotations

import http.server
import os
import threading
from pathlib import Path

import pytest

from buildout_harness import BuildoutDir, forget_run_state


@pytest.fixture
def buildout(tmp_path: Path) -> BuildoutDir:
    """A fresh directory to write a profile into and run real buildout on."""
    directory = tmp_path / "partition"
    directory.mkdir()
    return BuildoutDir(directory)


@pytest.fixture(autouse=True)
def _slapgrid_umask():
    """slapgrid runs buildout under umask 027; so do the tests."""
    previous = os.umask(0o027)
    yield
    os.umask(previous)


@pytest.fixture(autouse=True)
def _fresh_run_state():
    """slapkit keeps some state for the length of one buildout process (secrets
    to redact, files claimed, directory listings). Tests that construct recipes
    in this process must not hand theirs on to the next test, nor to the
    buildouts it forks."""
    forget_run_state()
    yield
    forget_run_state()


@pytest.fixture
def slapos_master(tmp_path: Path):
    """A real slapos proxy on 127.0.0.1 with a computer of two partitions."""
    from slapos_master import start_master, stop_master

    directory = tmp_path / "master"
    directory.mkdir()
    master = start_master(directory)
    try:
        master.format()
        yield master
    finally:
        stop_master(master)


@pytest.fixture
def http_server():
    """An HTTP server on 127.0.0.1 for promise checks: ``/`` answers 200,
    ``/missing`` 404, ``/private`` 401, ``/moved`` redirects to ``/``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            code = {"/missing": 404, "/private": 401, "/moved": 302}.get(self.path, 200)
            self.send_response(code)
            if code == 302:
                self.send_header("Location", "/")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _coverage_context_for_mutation(request):
    """For ``tools/mutate.py --collect`` only: label every line run, in this
    process and in the buildouts it forks or starts, with the test that ran it,
    so that a mutant is tried against the tests that reach its line."""
    if not os.environ.get("SLAPKIT_MUTATE_COLLECT"):
        yield
        return
    import coverage

    current = coverage.Coverage.current()
    if current is None:
        yield
        return
    current.config.context = request.node.nodeid  # forked children start from it
    current.switch_context(request.node.nodeid)
    if "COVERAGE_PROCESS_CONFIG" in os.environ:
        os.environ["COVERAGE_PROCESS_CONFIG"] = current.config.serialize()
    yield
    current.switch_context("")
