"""Run a partition's promises (``etc/promise/*``) as slapgrid does."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

# How long one run of one promise may take (the runner retries failing
# promises for --promise-timeout seconds in all, see run_promises).
ONE_RUN_TIMEOUT = 20.0


@dataclass(frozen=True)
class PromiseResult:
    name: str
    kept: bool
    message: str


def run_promise(path: Path, partition: Path) -> PromiseResult:
    try:
        proc = subprocess.run(
            [str(path)],
            cwd=partition,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=ONE_RUN_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return PromiseResult(path.name, False, f"timed out after {ONE_RUN_TIMEOUT:.0f}s")
    except OSError as exc:
        return PromiseResult(path.name, False, f"cannot run: {exc.strerror}")
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    message = lines[-1] if lines else ""
    if proc.returncode != 0 and not message:
        message = f"exited {proc.returncode}"
    return PromiseResult(path.name, proc.returncode == 0, message)


def promise_paths(partition: Path) -> list[Path]:
    directory = partition / "etc" / "promise"
    if not directory.is_dir():
        return []
    return [
        directory / name
        for name in sorted(os.listdir(directory))
        if os.access(directory / name, os.X_OK) and (directory / name).is_file()
    ]


def run_promises(partition: Path, wait: float = 0.0) -> list[PromiseResult]:
    """Run every promise; while some fail, retry them until ``wait`` seconds passed
    (a service just started may need a moment to listen)."""
    deadline = time.monotonic() + wait
    results = {path: run_promise(path, partition) for path in promise_paths(partition)}
    while time.monotonic() < deadline and not all(r.kept for r in results.values()):
        time.sleep(0.25)
        for path, result in results.items():
            if not result.kept:
                results[path] = run_promise(path, partition)
    return list(results.values())
