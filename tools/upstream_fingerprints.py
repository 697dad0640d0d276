"""Fingerprints of SlapOS's software repository, to keep its text out of ours.

A *window* is 6 consecutive non-blank lines of a file, each line stripped,
its runs of blanks collapsed to one space and ``$${`` read as ``${`` (the
escape a template-rendered profile uses). A window that stands in 5 or more
files of SlapOS's ``software/`` and ``stack/`` is a shared SlapOS idiom (the
slap-connection lines, say) and is not kept; every other one is kept as a
48-bit hash. No upstream text enters this repository: only those hashes,
sorted, in ``tests/upstream-fingerprints.bin`` (6 bytes each).

Make the list from a snapshot (a clone of github.com/SlapOS/slapos, or the
bare git directory the library's ``fetch`` gives)::

    python tools/upstream_fingerprints.py GIT_DIR [REV]

``tests/test_verbatim.py`` reads the list and fails, naming file and line, on
any window of this repository's profile text whose hash it holds.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

WINDOW = 6
IDIOM_FILES = 5  # a window found in this many upstream files is an idiom
HASH_BYTES = 6
LIST_PATH = Path(__file__).resolve().parent.parent / "tests" / "upstream-fingerprints.bin"
_BLANKS = re.compile(r"\s+")


def normalised_lines(text: str) -> list[tuple[int, str]]:
    """The non-blank lines of TEXT, normalised, with their 1-based numbers."""
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        line = _BLANKS.sub(" ", line.strip()).replace("$${", "${")
        if line:
            lines.append((number, line))
    return lines


def window_hash(lines: list[str]) -> bytes:
    return hashlib.blake2b(
        "\n".join(lines).encode("utf-8", "surrogatepass"), digest_size=HASH_BYTES
    ).digest()


def windows(text: str) -> Iterator[tuple[int, bytes]]:
    """(first line number, hash) of every window of TEXT."""
    lines = normalised_lines(text)
    for start in range(len(lines) - WINDOW + 1):
        chunk = lines[start : start + WINDOW]
        yield chunk[0][0], window_hash([line for _, line in chunk])


def decode(data: bytes) -> str | None:
    """DATA as text, or None for a binary file."""
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", "surrogateescape")


def load(path: Path = LIST_PATH) -> frozenset[bytes]:
    data = path.read_bytes()
    if len(data) % HASH_BYTES:
        raise ValueError(f"{path}: not a list of {HASH_BYTES}-byte hashes")
    return frozenset(data[i : i + HASH_BYTES] for i in range(0, len(data), HASH_BYTES))


def _git(git_dir: str, *args: str) -> bytes:
    return subprocess.run(
        ["git", "--git-dir", git_dir, *args], check=True, capture_output=True
    ).stdout


def upstream_files(git_dir: str, rev: str) -> Iterator[tuple[str, str]]:
    """(path, text) of every text file under software/ and stack/ at REV."""
    listing = _git(git_dir, "ls-tree", "-r", "-z", rev, "software", "stack").split(b"\0")
    entries: list[tuple[str, str]] = []
    for entry in filter(None, listing):
        meta, raw_name = entry.split(b"\t", 1)
        mode, kind, obj = meta.split()
        if kind == b"blob" and mode != b"120000":  # symbolic links are not text of their own
            entries.append((raw_name.decode("utf-8", "surrogateescape"), obj.decode()))
    # One git process for all the contents.
    batch = subprocess.run(
        ["git", "--git-dir", git_dir, "cat-file", "--batch"],
        input=b"".join(obj.encode() + b"\n" for _, obj in entries),
        check=True,
        capture_output=True,
    ).stdout
    offset = 0
    for name, _ in entries:
        header_end = batch.index(b"\n", offset)
        header = batch[offset:header_end].split()
        if header[-1] == b"missing":  # a snapshot may lack its largest files
            offset = header_end + 1
            print(f"absent from the snapshot: {name}", file=sys.stderr)
            continue
        size = int(header[2])
        data = batch[header_end + 1 : header_end + 1 + size]
        offset = header_end + 1 + size + 1
        text = decode(data)
        if text is not None:
            yield name, text


def fingerprints(files: Iterator[tuple[str, str]]) -> tuple[list[bytes], int, int]:
    """The sorted hashes of windows in fewer than IDIOM_FILES files; files read; idioms left out."""
    in_files: Counter[bytes] = Counter()
    count = 0
    for _, text in files:
        count += 1
        in_files.update({digest for _, digest in windows(text)})
    kept = sorted(digest for digest, n in in_files.items() if n < IDIOM_FILES)
    return kept, count, len(in_files) - len(kept)


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__, file=sys.stderr)
        return 2
    git_dir = argv[0]
    rev = _git(git_dir, "rev-parse", argv[1] if len(argv) > 1 else "HEAD").decode().strip()
    kept, files, idioms = fingerprints(upstream_files(git_dir, rev))
    LIST_PATH.write_bytes(b"".join(kept))
    print(
        f"{rev}: {files} text files of software/ and stack/, {len(kept)} fingerprints kept"
        f" ({idioms} idioms in {IDIOM_FILES}+ files left out), {LIST_PATH.stat().st_size} bytes"
        f" in {LIST_PATH.name}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
