"""The ``migrate`` subcommand: its arguments and its run.

``slapkit.runner.cli`` gives the subcommand's parser to ``add_arguments``
and the parsed arguments to ``run``; ``python -m slapkit.migration.cli``
runs the same on its own. Every profile is read and migrated before any is
written: a profile that cannot be read, an ``--output`` that cannot be a
directory, or two profiles of one name for one ``--output`` file, stop the
run with one line on stderr (exit status 2) and nothing changed on disk (a
missing ``--output`` directory is made, parents too, only after that).

Exit status: 0; 2 for an error; with ``--check``, 1 when any profile would
change (as ``black --check``), whatever is reported beside.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("profiles", type=Path, nargs="+", metavar="PROFILE")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--output",
        type=Path,
        metavar="DIR",
        help="write there instead of in place (made, parents too, when missing)",
    )
    where.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a profile would change",
    )
    parser.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="migrate in place the file a PROFILE that is a symbolic link points to "
        "(the link stays a link); without it such a PROFILE is refused",
    )


def run(args: argparse.Namespace) -> int:
    from slapkit.migration.command import (
        Migration,
        format_report,
        format_total,
        output_conflict,
        prepare,
        write,
    )
    from slapkit.migration.output_directory import make_output, output_problem

    if args.output is not None:
        problem = output_problem(args.output)
        if problem is not None:
            return _error(f"--output {args.output}", problem)
    migrations: list[Migration] = []
    for profile in args.profiles:
        try:
            migrations.append(prepare(profile, args.output, args.check, args.follow_symlinks))
        except OSError as exc:
            return _error(profile, exc.strerror or str(exc))
    conflict = output_conflict(migrations)
    if conflict is not None:
        return _error(f"--output {args.output}", conflict)
    if args.output is not None:
        try:
            make_output(args.output)
        except OSError as exc:
            return _error(f"--output {args.output}", exc.strerror or str(exc))
    would_change = False
    written: set[tuple[int, int]] = set()
    for migration in migrations:
        source = (migration.source.info.st_dev, migration.source.info.st_ino)
        if source not in written:  # a file named twice (or by a link) is written once
            try:
                write(migration)
            except OSError as exc:
                return _error(migration.report.path, exc.strerror or str(exc))
            if migration.in_place:
                written.add(source)
        report = migration.report
        for line in format_report(report, args.check):
            print(line)
        would_change = would_change or migration.changes
    if len(migrations) > 1:
        print(format_total([migration.report for migration in migrations], args.check))
    return 1 if args.check and would_change else 0


def _error(subject: object, message: str) -> int:
    print(f"slapkit: {subject}: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="slapkit migrate",
        description="rewrite recipe lines from slapos.cookbook to slapkit, report what differs",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
