"""``slapkit migrate``: apply the rule to profiles, report what does not migrate."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from slapkit.core.files import write_if_changed
from slapkit.migration.differences import Finding, findings_for
from slapkit.migration.profile_text import read_sections
from slapkit.migration.rule import is_covered, migrated


@dataclass
class ProfileReport:
    path: Path
    rewritten: int = 0  # recipe lines changed
    recipe_lines: int = 0
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
                if not spec.startswith("slapkit") or not is_covered(spec):
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


def migrate_file(path: Path, output: Path | None, check: bool) -> ProfileReport:
    """Migrate one profile in place, or into the directory ``output``; with
    ``check``, write nothing. Every byte but the recipe names is kept."""
    data = path.read_bytes()
    text = data.decode("utf-8", "surrogateescape")
    new_text, report = migrate_text(text)
    report.path = path
    if not check and (report.rewritten or output is not None):
        target = output / path.name if output is not None else Path(os.path.realpath(path))
        mode = os.stat(path).st_mode & 0o7777
        write_if_changed(str(target), new_text.encode("utf-8", "surrogateescape"), mode)
    return report


def format_report(report: ProfileReport) -> list[str]:
    lines = [
        f"{report.path}: {report.rewritten} of {report.recipe_lines} recipe lines migrated"
        + ("" if report.findings else ", clean")
    ]
    lines += [
        f"  {report.path}:{finding.line}: [{finding.part}] {finding.kind}: {finding.message}"
        for finding in report.findings
    ]
    return lines
