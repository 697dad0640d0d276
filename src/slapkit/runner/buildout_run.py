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
from typing import Any

from slapkit.core.partition_state import state_directory
from slapkit.runner.buildout_errors import Origin, buildout_error
from slapkit.runner.display import shown

_PART_LINE = re.compile(r"^(Installing|Updating|Uninstalling) (.+)\.$")
_CHANGE_LINE = re.compile(r"^\S+: (created|updated|removed|published|converted) ")
# zc.buildout's warning for options no recipe read: often a typo.
_UNUSED_OPTIONS = re.compile(r"^Section `(.+)` contains unused option\(s\): (.+)\.$")
# slapkit:requestoptional's line for an instance not ready: its outputs are empty.
_OPTIONAL_REQUEST = re.compile(r"^(\S+): (optional request: .+)$")

# What the buildout process runs: slapkit's extension on, whatever the
# profile says (.installed.cfg written only when it changed, and
# atomically), and no package index read (see never_download).
LAUNCHER = (
    "import sys, zc.buildout.buildout as b, slapkit.extension as e, "
    "slapkit.runner.buildout_run as r; "
    "e.load_for_this_process(); r.never_download(); b.main(sys.argv[1:])"
)


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
    command = [sys.executable, "-c", LAUNCHER, "-U", "-c", "buildout.cfg"]
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
            # Offline means offline: zc.buildout 5+ runs pip for a profile's
            # develop lines, which would read the package index.
            env={**os.environ, "PIP_NO_INDEX": "1"},
        )
        assert process.stdout is not None
        count = 0
        for line in process.stdout:
            line = line.rstrip("\n")
            log.write(shown(line) + "\n")
            lines.append(line)
            if verbose:
                progress(line)  # buildout's own output, live (progress escapes it)
            match = _PART_LINE.match(line)
            if match:
                count += 1
                if not verbose:
                    progress(f"[{count}] {match.group(1)} {shown(match.group(2))}")
            elif _CHANGE_LINE.match(line):
                changes.append(line)
            unused = _UNUSED_OPTIONS.match(line)
            if unused:
                warnings.append(f"[{unused.group(1)}] unused option(s): {unused.group(2)}")
            optional = _OPTIONAL_REQUEST.match(line)
            if optional:
                warnings.append(f"[{optional.group(1)}] {optional.group(2)}")
        returncode = process.wait()
    if returncode == 0:
        return BuildoutRun(True, changes, "", warnings)
    return BuildoutRun(
        False, changes, buildout_error(lines, verbose, Origin.of(partition)), warnings
    )


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


# --- in the buildout process --------------------------------------------------

# An allow-hosts pattern no host matches (file: URLs are read all the same).
_NO_HOST = ("",)


def never_download() -> None:
    """Keep zc.buildout's offline mode off the network.

    Offline (slapgrid's ``offline = true``), zc.buildout installs nothing,
    yet for a recipe whose distribution is not installed (a typo:
    ``slapkit.wrapper``) it first asks the package index for it, then scans
    the whole index (minutes), and only then says it has none: what it finds
    is never used. Every install that cannot install (no destination: the
    offline mode) is given an ``allow-hosts`` that no host matches, on a new
    index, so zc.buildout says at once that it has no such distribution."""
    import zc.buildout.easy_install as easy_install

    install = easy_install.install
    if getattr(install, "never_downloads", False):
        return

    def install_offline(specs: Any, dest: str | None, *args: Any, **kwargs: Any) -> Any:
        if dest is None:
            kwargs["allow_hosts"] = _NO_HOST
            easy_install.clear_index_cache()  # an index made for other hosts
        return install(specs, dest, *args, **kwargs)

    install_offline.never_downloads = True  # type: ignore[attr-defined]
    easy_install.install = install_offline


# --- what stopped it -------------------------------------------------------------
