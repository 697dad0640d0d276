"""The ``slapkit`` command's entry point: says in one line what to install
when the runner's requirements are missing, before anything imports them."""

from __future__ import annotations

import importlib.util
import sys

RUNNER_REQUIREMENTS = {"zc.buildout": "zc.buildout", "supervisor": "supervisor"}


def missing_requirements() -> list[str]:
    missing = []
    for module, distribution in RUNNER_REQUIREMENTS.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:  # zc itself missing
            found = False
        if not found:
            missing.append(distribution)
    return missing


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    missing = missing_requirements()
    if missing and arguments == ["--version"]:
        from slapkit import __version__

        print(f"slapkit {__version__}")
        return 0
    if missing:
        print(
            f"slapkit: the slapkit command needs {' and '.join(missing)}, which slapkit's runner "
            "extra installs: pip install 'slapkit[runner]'",
            file=sys.stderr,
        )
        return 2
    from slapkit.runner.cli import main as run

    return run(argv)
