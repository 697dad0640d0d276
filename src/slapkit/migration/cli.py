"""The ``migrate`` subcommand: its arguments and its run.

``slapkit.runner.cli`` gives the subcommand's parser to ``add_arguments``
and the parsed arguments to ``run``; ``python -m slapkit.migration.cli``
runs the same on its own. Every profile is read and migrated before any is
written: a profile that cannot be read, or two profiles of one name for one
``--output`` file, stop the run with one line on stderr (exit status 2) and
nothing changed on disk.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("profiles", type=Path, nargs="+", metavar="PROFILE")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--output", type=Path, metavar="DIR", help="write there instead of in place")
    where.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when anything would not migrate cleanly",
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
        output_conflict,
        prepare,
        write,
    )

    if args.output is not None and not args.output.is_dir():
        return _error(f"--output {args.output}", "not a directory")
    migrations: list[Migration] = []
    for profile in args.profiles:
        try:
            migrations.append(prepare(profile, args.output, args.check, args.follow_symlinks))
        except OSError as exc:
            return _error(profile, exc.strerror or str(exc))
    conflict = output_conflict(migrations)
    if conflict is not None:
        return _error(f"--output {args.output}", conflict)
    clean, total_lines, total_migrated, total_findings = True, 0, 0, 0
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
        for line in format_report(report):
            print(line)
        clean = clean and report.clean
        total_lines += report.recipe_lines
        total_migrated += report.rewritten
        total_findings += len(report.findings)
    if len(migrations) > 1:
        print(
            f"{len(migrations)} profiles: {total_migrated} of {total_lines} recipe lines "
            f"migrated, {total_findings} findings"
        )
    return 0 if clean or not args.check else 1


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
