"""Survey SlapOS's software repository: which recipes and options instance
profiles use, and what ``slapkit migrate --check`` says about each of them.

    .venv/bin/python tools/survey.py GIT_DIR [--rev HEAD] [--write docs/survey.md]

GIT_DIR is a clone (or the bare git directory that the library's ``fetch``
gives) of github.com/SlapOS/slapos. Profiles are the files named
``instance*.cfg*`` under ``software/`` and ``stack/``. Blobs missing from a
partial snapshot are counted and skipped. Nothing of the repository is
copied: only counts are printed.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
from pathlib import Path

from slapkit.migration.command import migrate_text
from slapkit.migration.profile_text import read_sections
from slapkit.migration.rule import is_covered, migrated

PROFILE = re.compile(r"^(software|stack)/.*/instance[^/]*\.cfg[^/]*$")


def git(git_dir: str, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", git_dir, *args], check=True, capture_output=True, text=True
    ).stdout


def profiles(git_dir: str, rev: str) -> tuple[dict[str, str], list[str]]:
    names = [
        n
        for n in git(git_dir, "ls-tree", "-r", "--name-only", rev).splitlines()
        if PROFILE.match(n)
    ]
    texts, missing = {}, []
    for name in names:
        result = subprocess.run(
            ["git", "--git-dir", git_dir, "show", f"{rev}:{name}"], capture_output=True
        )
        if result.returncode:
            missing.append(name)
        else:
            texts[name] = result.stdout.decode("utf-8", "surrogateescape")
    return texts, missing


def survey(texts: dict[str, str]) -> dict[str, object]:
    recipes: collections.Counter[str] = collections.Counter()
    options: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    fully_covered, lines, covered_lines = 0, 0, 0
    findings: collections.Counter[str] = collections.Counter()
    clean_profiles = 0
    per_finding: collections.Counter[str] = collections.Counter()
    for text in texts.values():
        all_covered = True
        for section in read_sections(text):
            for recipe in section.options:
                spec = recipe.value.split("#", 1)[0].strip()
                if recipe.name != "recipe" or not spec:
                    continue
                lines += 1
                recipes[spec] += 1
                for option in section.options:
                    if option.name != "recipe":
                        options[spec][option.name] += 1
                target = migrated(spec)
                if target is not None and is_covered(target):
                    covered_lines += 1
                else:
                    all_covered = False
        fully_covered += all_covered
        _, report = migrate_text(text)
        clean_profiles += report.clean
        for finding in report.findings:
            findings[finding.kind] += 1
            if finding.kind in ("not supported", "differs"):
                per_finding[finding.message.split(":", 1)[0][:60]] += 1
    return {
        "recipes": recipes,
        "options": options,
        "lines": lines,
        "covered_lines": covered_lines,
        "fully_covered": fully_covered,
        "findings": findings,
        "clean_profiles": clean_profiles,
        "per_finding": per_finding,
    }


# What slapkit deploy runs as it is, with slapkit[compat] installed.
COMPAT = ("slapos.recipe.build", "plone.recipe.command", "collective.recipe.template")
# The monitor stack's sections, which its profiles extend or reference.
MONITOR = re.compile(r"monitor-(template|base|instance-parameter|promise-base|httpd-conf)\b")
# SlapOS's fork evaluates !py! expressions; slapkit reads literals only.
FORK_EXPRESSION = re.compile(r"!py!(?!\{\{)")


def blockers(text: str) -> set[str]:
    """Why ``slapkit deploy`` cannot run this profile as it is: a recipe
    slapkit has no namesake of (nor its compat extra), the monitor stack,
    a feature of SlapOS's zc.buildout fork that slapkit does not take."""
    found = set()
    for section in read_sections(text):
        for option in section.options:
            spec = option.value.split("#", 1)[0].strip()
            if option.name != "recipe" or not spec:
                continue
            if "{{" in spec or "${" in spec:
                found.add("a recipe named by a template or a reference")
                continue
            target = migrated(spec)
            if target is not None and is_covered(target):
                continue
            if spec.startswith("slapkit:") or spec.split(":", 1)[0].strip() in COMPAT:
                continue
            found.add(f"recipe {spec}")
    if MONITOR.search(text):
        found.add("the monitor stack")
    if FORK_EXPRESSION.search(text):
        found.add("a !py! value written by hand (the fork evaluates it)")
    if "_profile_base_location_" in text:
        found.add("${:_profile_base_location_} (the fork's)")
    return found


def render_blockers(texts: dict[str, str], rev: str) -> list[str]:
    per_profile = {name: blockers(text) for name, text in texts.items()}
    counts: collections.Counter[str] = collections.Counter()
    for found in per_profile.values():
        counts.update(found)
    free = sorted(name for name, found in per_profile.items() if not found)
    out = [
        "",
        "## Blockers: what keeps `slapkit deploy` from running a profile as it is",
        "",
        f"Profiles with no blocker: **{len(free)} of {len(texts)}** (at `{rev[:8]}`, "
        "after `slapkit migrate`, with `slapkit[compat]` installed). Counted "
        "statically: a profile with none may still need what its software "
        "release renders or a recipe of the profiles it runs (switch-softwaretype).",
        "",
        "| blocker | profiles |",
        "|---|---:|",
    ]
    for blocker, count in counts.most_common():
        out.append(f"| {blocker} | {count} |")
    out += ["", "Profiles with no blocker:", ""]
    out += [f"- `{name}`" for name in free]
    return out


def render(result: dict[str, object], texts: dict[str, str], missing: list[str], rev: str) -> str:
    recipes = result["recipes"]
    options = result["options"]
    assert isinstance(recipes, collections.Counter) and isinstance(options, dict)
    lines = int(result["lines"])  # type: ignore[call-overload]
    covered = int(result["covered_lines"])  # type: ignore[call-overload]
    out = [
        "# Survey of SlapOS's instance profiles",
        "",
        f"SlapOS/slapos at `{rev}`; {len(texts)} instance profiles "
        f"(`software/**/instance*.cfg*`, `stack/**/instance*.cfg*`)"
        + (f", {len(missing)} more absent from the snapshot" if missing else "")
        + ". Made by `tools/survey.py`; counts only.",
        "",
        f"- `recipe =` lines: {lines}; covered by slapkit after the migration rule: "
        f"{covered} ({100 * covered / max(lines, 1):.0f} %)",
        f"- profiles whose every recipe is covered: {result['fully_covered']} of {len(texts)}",
        f"- profiles `slapkit migrate --check` passes (no finding at all): "
        f"{result['clean_profiles']} of {len(texts)}",
        "- findings of `slapkit migrate --check`, by kind: "
        + ", ".join(f"{kind} {count}" for kind, count in sorted(result["findings"].items())),  # type: ignore[attr-defined]
        "",
        "## Recipes (recipe lines)",
        "",
        "| recipe | lines | slapkit name | covered |",
        "|---|---:|---|---|",
    ]
    for spec, count in recipes.most_common():
        target = migrated(spec)
        out.append(
            f"| `{spec}` | {count} | {('`' + target + '`') if target else '-'} | "
            f"{'yes' if target and is_covered(target) else 'no'} |"
        )
    out += ["", "## Options per recipe (cookbook and template recipes, 3 lines or more)", ""]
    for spec, count in recipes.most_common():
        if migrated(spec) is None or count < 3:
            continue
        used = ", ".join(f"`{name}` {n}" for name, n in options[spec].most_common(25))
        out.append(f"- `{spec}` ({count}): {used}")
    out += ["", "## What `migrate --check` reports most (not supported, differs)", ""]
    per_finding = result["per_finding"]
    assert isinstance(per_finding, collections.Counter)
    for message, count in per_finding.most_common(20):
        out.append(f"- {message}: {count}")
    out += render_blockers(texts, rev)
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("git_dir")
    parser.add_argument("--rev", default="HEAD")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    rev = git(args.git_dir, "rev-parse", args.rev).strip()
    texts, missing = profiles(args.git_dir, rev)
    text = render(survey(texts), texts, missing, rev)
    if args.write:
        args.write.write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
