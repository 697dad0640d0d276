"""No passage of SlapOS's software repository stands in ours.

``tests/upstream-fingerprints.bin`` holds a 48-bit hash of every window of 6
non-blank lines of SlapOS's ``software/`` and ``stack/`` (at the commit the
corpus cases name) that stands in fewer than 5 of its files; the windows in 5
or more are SlapOS's shared idioms (the slap-connection lines). No upstream
text is in the list. ``tools/upstream_fingerprints.py`` makes it from a
snapshot and says how; here every text file of this repository is read the
same way, and any window whose hash the list holds fails the test, named by
file and line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import upstream_fingerprints as fingerprints  # noqa: E402

# Not the project's text: tools' outputs, environments, caches.
SKIPPED_DIRECTORIES = {".git", "__pycache__", "build", "dist", "node_modules"}


def project_text_files() -> list[Path]:
    found = []
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = sorted(
            name
            for name in subdirectories
            if name not in SKIPPED_DIRECTORIES
            and not name.startswith((".venv", ".tox", ".mypy", ".ruff", ".pytest", ".hypothesis"))
            and not name.endswith(".egg-info")
        )
        for name in sorted(files):
            path = Path(directory, name)
            if path != fingerprints.LIST_PATH and not path.is_symlink():
                found.append(path)
    return found


def verbatim_passages(text: str, known: frozenset[bytes]) -> list[int]:
    """The first line of every window of TEXT that the list holds."""
    return [line for line, digest in fingerprints.windows(text) if digest in known]


@pytest.fixture(scope="module")
def known() -> frozenset[bytes]:
    return fingerprints.load()


def test_the_list_is_a_real_one(known):
    data = fingerprints.LIST_PATH.read_bytes()
    hashes = [data[i : i + 6] for i in range(0, len(data), 6)]
    assert hashes == sorted(hashes), "the list is kept sorted (made by the tool)"
    assert len(known) == len(hashes) > 100_000


def test_no_window_of_the_repository_stands_upstream(known):
    found = []
    for path in project_text_files():
        text = fingerprints.decode(path.read_bytes())
        if text is not None:
            found += [f"{path.relative_to(ROOT)}:{line}" for line in verbatim_passages(text, known)]
    assert not found, (
        "6 lines as they stand in SlapOS's repository; write them anew:\n" + "\n".join(found)
    )


PASSAGE = """\
[my-section]
recipe = slapkit:wrapper
command-line = $${:bin}/server --port $${:port}
wrapper-path = $${directory:service}/server
port = 8080
bin = /opt/bin
"""


def test_a_window_is_found_through_blanks_and_escapes():
    known = frozenset(digest for _, digest in fingerprints.windows(PASSAGE))
    reindented = "\n\n  ".join(PASSAGE.replace("$${", "${").replace(" = ", "   =\t").splitlines())
    assert verbatim_passages("# before\n" + reindented + "\n", known) == [2]
    # One changed line is a different window.
    assert verbatim_passages(PASSAGE.replace("8080", "8081"), known) == []


def test_the_same_window_in_five_files_is_an_idiom():
    def files(count):
        return iter([(f"f{i}", PASSAGE) for i in range(count)])

    assert len(fingerprints.fingerprints(files(4))[0]) == 1
    assert fingerprints.fingerprints(files(5))[0] == []
