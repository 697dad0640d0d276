"""Running buildout in a partition, and reading what it says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from slapkit.core.partition_state import state_directory
from slapkit.runner.display import shown

_PART_LINE = re.compile(r"^(Installing|Updating|Uninstalling) (.+)\.$")
_CHANGE_LINE = re.compile(r"^\S+: (created|updated|removed|published|converted) ")
# zc.buildout's warning for options no recipe read: often a typo.
_UNUSED_OPTIONS = re.compile(r"^Section `(.+)` contains unused option\(s\): (.+)\.$")


@dataclass
class BuildoutRun:
    ok: bool
    changes: list[str]  # the lines recipes said for files they changed
    error: str  # what stopped it, when it failed
    warnings: list[str]  # unused options, as "[part] unused option(s): 'x'"


def run_buildout(
    partition: Path, progress: Callable[[str], None], verbose: bool = False
) -> BuildoutRun:
    """Run buildout in the partition under slapgrid's umask 027; the whole
    output goes to ``.slapkit/buildout.log``."""
    command = [
        sys.executable,
        "-c",
        # slapkit's extension on, whatever the profile says: .installed.cfg
        # written only when it changed, and atomically.
        "import sys, zc.buildout.buildout as b, slapkit.extension as e; e.load(); "
        "b.main(sys.argv[1:])",
        "-U",
        "-c",
        "buildout.cfg",
    ]
    changes: list[str] = []
    warnings: list[str] = []
    lines: list[str] = []
    with open(new_log(partition, "buildout.log"), "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command,
            cwd=partition,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            umask=0o027,
        )
        assert process.stdout is not None
        count = 0
        for line in process.stdout:
            line = line.rstrip("\n")
            log.write(shown(line) + "\n")
            lines.append(line)
            match = _PART_LINE.match(line)
            if match:
                count += 1
                progress(f"[{count}] {match.group(1)} {shown(match.group(2))}")
            elif _CHANGE_LINE.match(line):
                changes.append(line)
            unused = _UNUSED_OPTIONS.match(line)
            if unused:
                warnings.append(f"[{unused.group(1)}] unused option(s): {unused.group(2)}")
        returncode = process.wait()
    error = "" if returncode == 0 else buildout_error(lines, verbose)
    return BuildoutRun(returncode == 0, changes, error, warnings)


def new_log(partition: Path, name: str) -> int:
    """A descriptor of a new, empty ``.slapkit/NAME`` (0600), open to write.

    The file is made afresh (exclusively, under a temporary name) and renamed
    over whatever stood there: a symlink planted there is replaced, never
    written through, and a FIFO never opened."""
    state = state_directory(str(partition))
    fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=state)
    try:
        os.rename(temporary, os.path.join(state, name))
    except BaseException:
        os.close(fd)
        os.unlink(temporary)
        raise
    return fd


_SECTION_LINE = re.compile(r"\s+Getting section (.+)\.$")
_MISSING_ENTRY = re.compile(r"ImportError: Entry point \('zc\.buildout', '(.+)'\) not found")
_MISSING_DISTRIBUTION = re.compile(r"Error: We don't have a distribution for (\S+)$")


def _missing_recipe(lines: list[str]) -> str | None:
    """One line for a recipe that does not exist: ``[part] recipe: …``."""
    for line in reversed(lines):
        entry = _MISSING_ENTRY.search(line)
        distribution = _MISSING_DISTRIBUTION.match(line.strip())
        if entry or distribution:
            break
    else:
        return None
    sections = [m.group(1) for m in map(_SECTION_LINE.match, lines) if m]
    where = f"[{sections[-1]}] recipe" if sections else "recipe"
    if distribution:
        return f"{where}: no distribution {distribution.group(1)} is installed"
    spec = next(
        (
            line.split("recipe entry ", 1)[1].rstrip(".")
            for line in lines
            if "recipe entry " in line
        ),
        entry.group(1) if entry else "",
    )
    if spec.startswith("slapkit:"):
        return f"{where}: slapkit has no recipe {spec!r} (it has: {', '.join(slapkit_recipes())})"
    return f"{where}: no recipe {spec!r}"


def slapkit_recipes() -> list[str]:
    from slapkit.migration.rule import provided

    return sorted(name.split(":", 1)[1] for name in provided())


def buildout_error(lines: list[str], verbose: bool = False) -> str:
    """The error that stopped buildout, whatever its form: its ``While:``
    lines and its ``Error:`` (a UserError), or the exception a traceback
    ended with (a parse error, a recipe's bug), without the traceback
    unless ``verbose``."""
    missing = _missing_recipe(lines)
    if missing:
        return missing
    indented = (" ", "\t")
    kept: list[str] = []
    exception: list[str] = []
    in_block = False  # inside a While:/Error: block (its indented lines)
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("Traceback (most recent call last):"):
            frames_end = index + 1
            while frames_end < len(lines) and lines[frames_end].startswith(indented):
                frames_end += 1
            end = frames_end + 1
            while end < len(lines) and lines[end].startswith(indented):
                end += 1
            exception = lines[frames_end:end]
            if verbose:
                kept += lines[index:end]
            index, in_block = end, False
            continue
        if line.startswith(("While:", "Error:")):
            in_block = True
            kept.append(line)
        elif in_block and line.startswith(indented):
            kept.append(line)
        else:
            in_block = False
        index += 1
    if exception and not any(line.startswith("Error:") for line in kept):
        kept += ["Error: " + exception[0].strip()] + exception[1:]
    return "\n".join(kept[-40:] if kept else lines[-15:])
