"""``slapkit migrate``: apply the rule to profiles, report what does not migrate.

A profile is read whole (only a regular file; a symbolic link is not
written through) and migrated in memory (``prepare``) before anything is
written (``write``): in place as ``slapkit.migration.editing`` says (owner,
group, mode, links kept), or to ``--output DIR/NAME``. ``output_conflict``
refuses, before any write, two profiles of one name for one output file.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slapkit.core.files import write_if_changed
from slapkit.migration.differences import Finding, findings_for
from slapkit.migration.editing import (
    ProfileError,
    ReadProfile,
    kind_of,
    read_profile,
    write_in_place,
)
from slapkit.migration.profile_text import read_sections
from slapkit.migration.rule import is_covered, migrated


@dataclass
class ProfileReport:
    path: Path
    rewritten: int = 0  # recipe lines changed
    recipe_lines: int = 0
    already_slapkit: int = 0  # recipe lines naming a recipe slapkit has
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings


def migrate_text(text: str) -> tuple[str, ProfileReport]:
    """The migrated text (only recipe values changed) and what was found."""
    report = ProfileReport(Path())
    replacements: list[tuple[int, int, str]] = []
    for section in read_sections(text):
        for option in section.options:
            if option.name != "recipe":
                continue
            spec = option.value.split("#", 1)[0].strip()
            if not spec:
                continue  # an emptied recipe (a macro's user cancels it)
            report.recipe_lines += 1
            if "{{" in spec or "${" in spec or "{%" in spec:
                report.findings.append(
                    Finding(
                        option.line,
                        section.name,
                        "computed",
                        f"recipe {spec!r} is computed; migrate it by hand",
                    )
                )
                continue
            target = migrated(spec)
            if target is None:
                if is_covered(spec):
                    report.already_slapkit += 1
                else:
                    report.findings.append(
                        Finding(
                            option.line,
                            section.name,
                            "not covered",
                            f"{spec}: not a slapos.cookbook or slapos.recipe.template "
                            "recipe, left as it is"
                            if not spec.startswith("slapkit")
                            else f"{spec}: slapkit has no such recipe",
                        )
                    )
                continue
            if not is_covered(target):
                report.findings.append(
                    Finding(
                        option.line,
                        section.name,
                        "not covered",
                        f"{spec}: slapkit has no {target} yet, left as it is",
                    )
                )
                continue
            start = option.value_start + option.value.index(spec)
            replacements.append((start, start + len(spec), target))
            report.rewritten += 1
            report.findings += findings_for(section, target)
    pieces, position = [], 0
    for start, end, target in replacements:
        pieces += [text[position:start], target]
        position = end
    pieces.append(text[position:])
    report.findings.sort(key=lambda finding: finding.line)
    return "".join(pieces), report


@dataclass
class Migration:
    """One profile migrated in memory, not written yet."""

    source: ReadProfile
    data: bytes  # the migrated profile
    report: ProfileReport
    target: Path | None  # the output file, with --output
    in_place: bool  # written back where it was read (not --output, not --check)

    @property
    def changes(self) -> bool:
        """Whether migrating changes the profile (what --check asks)."""
        return self.data != self.source.data


def prepare(
    path: Path, output: Path | None, check: bool, follow_symlinks: bool = False
) -> Migration:
    """Read and migrate one profile; raises OSError (ProfileError for a
    refusal). Writes nothing."""
    in_place = output is None and not check
    source = read_profile(path, in_place, follow_symlinks)
    text = source.data.decode("utf-8", "surrogateescape")
    new_text, report = migrate_text(text)
    report.path = path
    target = None
    if output is not None and not check:
        target = output / path.name
        try:
            found = os.lstat(target)
        except FileNotFoundError:
            pass
        else:
            if os.path.samestat(found, os.lstat(path)) or os.path.samestat(found, source.info):
                raise ProfileError(
                    f"--output {output} would write over the profile itself; "
                    "migrate it in place without --output"
                )
            if not (stat.S_ISREG(found.st_mode) or stat.S_ISLNK(found.st_mode)):
                raise ProfileError(
                    f"--output {output}: {target} is {kind_of(found.st_mode)}, not a regular file",
                    errno.EEXIST,
                )
    data = new_text.encode("utf-8", "surrogateescape")
    return Migration(source, data, report, target, in_place)


def output_conflict(migrations: Sequence[Migration]) -> str | None:
    """Why these cannot all be written to their outputs (two different
    profiles onto one file), or None."""
    seen: dict[Path, Migration] = {}
    for migration in migrations:
        if migration.target is None:
            continue
        other = seen.setdefault(migration.target, migration)
        if other is not migration and not os.path.samestat(
            other.source.info, migration.source.info
        ):
            return (
                f"{other.report.path} and {migration.report.path} would both be written to "
                f"{migration.target}; nothing written"
            )
    return None


def write(migration: Migration) -> None:
    """Write one prepared migration: to its output, or in place when
    anything changed; with --check, nothing. Raises OSError."""
    if migration.target is not None:
        # A copy belongs to whoever runs migrate: it keeps the read and
        # write bits, never setuid, setgid or sticky (a setuid file of
        # another user's became one of root's).
        mode = stat.S_IMODE(migration.source.info.st_mode) & 0o777
        write_if_changed(str(migration.target), migration.data, mode)
    elif migration.in_place and migration.data != migration.source.data:
        write_in_place(migration.source, migration.data)


def migrate_file(
    path: Path, output: Path | None, check: bool, follow_symlinks: bool = False
) -> ProfileReport:
    """Migrate one profile in place, or into the directory ``output``; with
    ``check``, write nothing. Every byte but the recipe names is kept."""
    migration = prepare(path, output, check, follow_symlinks)
    write(migration)
    return migration.report


def _counts(rewritten: int, recipe_lines: int, already_slapkit: int, check: bool) -> str:
    """``N of M recipe lines migrated`` (``would migrate`` with --check),
    and how many named a slapkit recipe already."""
    verb = "would migrate" if check else "migrated"
    text = f"{rewritten} of {recipe_lines} recipe lines {verb}"
    return text + (f", {already_slapkit} already slapkit" if already_slapkit else "")


def format_report(report: ProfileReport, check: bool = False) -> list[str]:
    """One profile's report: its counts, then one line per finding."""
    counts = _counts(report.rewritten, report.recipe_lines, report.already_slapkit, check)
    lines = [f"{report.path}: {counts}" + ("" if report.findings else ", clean")]
    lines += [
        f"  {report.path}:{finding.line}: [{finding.part}] {finding.kind}: {finding.message}"
        for finding in report.findings
    ]
    return lines


def format_total(reports: Sequence[ProfileReport], check: bool = False) -> str:
    """The line that sums up several profiles' reports."""
    counts = _counts(
        sum(report.rewritten for report in reports),
        sum(report.recipe_lines for report in reports),
        sum(report.already_slapkit for report in reports),
        check,
    )
    findings = sum(len(report.findings) for report in reports)
    return f"{len(reports)} profiles: {counts}, {findings} findings"
