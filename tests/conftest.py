from __future__ import annotations

import os
from pathlib import Path

import pytest

from buildout_harness import BuildoutDir


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
