"""What stopped a buildout run, said in one line a user can act on: a
recipe whose distribution is missing, a recipe that needs a SlapOS master,
a syntax error at the user's own file and line, an option only SlapOS's
zc.buildout fork sets; else zc.buildout's own ``While:``/``Error:`` lines
or the exception a traceback ended with."""

from __future__ import annotations

import ast
import difflib
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

_SECTION_LINE = re.compile(r"\s+Getting section (.+)\.$")
_PART_OF_WHILE = re.compile(
    r"\s+(?:Getting section|Initializing section|Installing|Updating) (.+)\.$"
)
_MISSING_ENTRY = re.compile(r"ImportError: Entry point \('zc\.buildout', ('.+')\) not found")
_MISSING_DISTRIBUTION = re.compile(r"Error: We don't have a distribution for (\S+)$")
_RECIPE_INSTALLED = re.compile(r"\s+Installing recipe (.+)\.$")
# The slap library asking an empty server-url (a master) for something.
_NO_MASTER = re.compile(r"Invalid URL '(/[^']*)'")
_UNSET_OPTION = re.compile(r"Error: Referenced option does not exist: (\S+) (\S+)$")
_OPTION_READ = re.compile(r"\s+Getting option (.+):(.+)\.$")
_PARSE_ERRORS = re.compile(r"ParsingError: File contains parsing errors: (.+)$")
_PARSE_ERROR_LINE = re.compile(r"\t\[line\s+(\d+)\]: (.*)$")
_NO_HEADER = re.compile(r"MissingSectionHeaderError: File contains no section headers\.$")
_NO_HEADER_WHERE = re.compile(r"file: (.+), line: (\d+)$")
# Where a profile's sections and options are (zc.buildout's syntax).
_HEADER = re.compile(r"\[\s*([^\s\[\]:{}]+)\s*\]")
_OPTION = re.compile(r"([^\s{}\[\]=:]+?)\s*[-+]?\s*[:=]\s*(.*)$")


@dataclass
class Origin:
    """The profile buildout ran: the partition's ``buildout.cfg`` and, when
    that is still a copy of it, the user's own file, whose line N is line N
    there. Errors point at the user's file."""

    config: str = "buildout.cfg"
    profile: str | None = None
    # (section, option) -> its value's lines, with their numbers
    options: dict[tuple[str, str], list[tuple[int, str]]] = field(default_factory=dict)
    profile_lines: int = 0

    @classmethod
    def of(cls, partition: Path) -> Origin:
        # Imported here: the buildout process imports this module too.
        from slapkit.core.files import read_regular_file
        from slapkit.runner.partition import TAIL_MARKER, copied_profile

        config = str(partition / "buildout.cfg")
        try:
            data = read_regular_file(config)
            profile = copied_profile(partition)
        except OSError:
            return cls(config)
        if data is None:
            return cls(config)
        text = data.decode("utf-8", errors="replace")
        if profile is None:
            return cls(config, None, _options(text))
        copied = text[: text.rfind(f"\n\n{TAIL_MARKER}\n")]
        return cls(config, str(profile), _options(text), len(copied.split("\n")))

    def named(self) -> str:
        """The profile, as a ``slapkit migrate`` argument."""
        return shlex.quote(self.profile) if self.profile else "PROFILE"

    def where(self, path: str, line: int) -> str:
        if self.profile and line <= self.profile_lines and _same_file(path, self.config):
            return f"{self.profile}, line {line}"
        return f"{path}, line {line}"

    def option(self, section: str, option: str) -> list[tuple[int, str]]:
        return self.options.get((section, option), [])

    def recipe(self, section: str) -> str | None:
        found = self.option(section, "recipe")
        return "\n".join(text for _, text in found).strip() if found else None


def _same_file(path: str, other: str) -> bool:
    try:
        return os.path.samefile(path, other)
    except OSError:
        return False


def _options(text: str) -> dict[tuple[str, str], list[tuple[int, str]]]:
    """Each option of the profile (as defined the last time): its value's
    lines and their numbers. Enough to point at a line; not a parser."""
    found: dict[tuple[str, str], list[tuple[int, str]]] = {}
    section: str | None = None
    current: list[tuple[int, str]] | None = None
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip() or line[0] in "#;":
            continue  # as buildout: the value goes on after them
        if line[0].isspace():
            if current is not None:
                current.append((number, line))
            continue
        header = _HEADER.match(line)
        option = _OPTION.match(line)
        current = None
        if header:
            section = header.group(1)
        elif option and section is not None:
            current = found[(section, option.group(1))] = [(number, option.group(2))]
    return found


def slapkit_recipes() -> list[str]:
    from slapkit.migration.rule import provided

    # switch-softwaretype.inherited is set by switch-softwaretype itself.
    names = (name.split(":", 1)[1] for name in provided())
    return sorted(name for name in names if not name.endswith(".inherited"))


def buildout_error(lines: list[str], verbose: bool = False, origin: Origin | None = None) -> str:
    """The error that stopped buildout, whatever its form: for the mistakes
    a profile's author makes (a recipe that is not installed, one that needs
    a master, a syntax error...) one line saying what to do, at the
    profile's own file and line; else its ``While:`` lines and its
    ``Error:`` (a UserError), or the exception a traceback ended with (a
    recipe's bug), without the traceback unless ``verbose``."""
    origin = origin or Origin()
    explained = (
        _missing_recipe(lines, origin)
        or _needs_master(lines, origin)
        or _unset_base_location(lines, origin)
        or _syntax_error(lines, origin)
    )
    if explained and not verbose:
        return explained
    reported = _reported(lines, verbose)
    return f"{reported}\n{explained}" if explained else reported


def _reported(lines: list[str], verbose: bool) -> str:
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


def _part(lines: list[str], pattern: re.Pattern[str] = _PART_OF_WHILE) -> str | None:
    parts = [m.group(1) for m in map(pattern.match, lines) if m]
    return parts[-1] if parts else None


def _missing_recipe(lines: list[str], origin: Origin) -> str | None:
    """What to do about a recipe that does not exist: ``[part] recipe: …``."""
    for line in reversed(lines):
        entry = _MISSING_ENTRY.search(line)
        distribution = _MISSING_DISTRIBUTION.match(line.strip())
        if entry or distribution:
            break
    else:
        return None
    part = _part(lines, _SECTION_LINE)
    where = f"[{part}] recipe" if part else "recipe"
    several = _several_lines(part, origin) if part else None
    if several:
        return f"{where}: {several}"
    if distribution and not part and any(line.strip() == "Loading extensions." for line in lines):
        return _not_installed("[buildout] extensions", distribution.group(1), None, origin)
    if distribution:
        recipes = [m.group(1) for m in map(_RECIPE_INSTALLED.match, lines) if m]
        written = (origin.recipe(part) if part else None) or (recipes[-1] if recipes else None)
        return _not_installed(where, distribution.group(1), written, origin)
    assert entry is not None
    try:
        name = ast.literal_eval(entry.group(1))
    except (ValueError, SyntaxError):
        name = entry.group(1)
    spec = next(
        (
            line.split("recipe entry ", 1)[1].rstrip(".")
            for line in lines
            if "recipe entry " in line
        ),
        str(name),
    )
    if "\n" in str(name):  # a line indented under it, in a file the profile extends
        continued = str(name).split("\n", 1)[1]
        return (
            f"{where}: {continued!r} continues its value {spec!r}: a line indented under an "
            "option continues its value; write it at the start of the line"
        )
    if spec.startswith("slapkit:"):
        names = slapkit_recipes()
        close = difflib.get_close_matches(spec.removeprefix("slapkit:"), names, n=1, cutoff=0.7)
        hint = f"did you mean 'slapkit:{close[0]}'? " if close else ""
        return f"{where}: slapkit has no recipe {spec!r} ({hint}it has: {', '.join(names)})"
    return f"{where}: no recipe {spec!r}"


def _several_lines(part: str, origin: Origin) -> str | None:
    """The ``recipe`` of the part as a value of several lines: a line
    indented under it by mistake."""
    value = origin.option(part, "recipe")
    if len(value) < 2:
        return None
    number, line = value[1]
    text = "\n".join(text for _, text in value)
    return (
        f"its value is {len(value)} lines, {text!r}: a line indented under an option "
        f"continues its value ({origin.where(origin.config, number)}: {line!r} is indented; "
        "write it at the start of the line)"
    )


def _not_installed(where: str, missing: str, recipe: str | None, origin: Origin) -> str:
    """A distribution buildout does not have: it runs offline (as under
    slapgrid) and installs none, so it must be installed beforehand. A
    mistyped or cookbook ``recipe`` is shown its slapkit namesake."""
    from slapkit.migration.rule import is_covered, migrated, provided

    head = f"{where}: no distribution {missing} is installed"
    if recipe is not None and not recipe.startswith(missing):  # one the recipe requires
        head = f"{where} {recipe} needs the distribution {missing}, which is not installed"
    hints = [head + " (buildout runs offline: it downloads nothing)"]
    slapkit_spelling = migrated(recipe) if recipe else None
    close = difflib.get_close_matches(recipe, sorted(provided()), n=1, cutoff=0.8) if recipe else []
    if slapkit_spelling and is_covered(slapkit_spelling):
        hints.append(
            f"slapkit has this recipe: `slapkit migrate {origin.named()}` makes the profile "
            f"use {slapkit_spelling}"
        )
    elif close and close[0] != recipe:
        # A typo: no line that would install a distribution so named (it may
        # not exist, or be someone else's).
        hints.append(f"did you mean {close[0]}? (a recipe is DISTRIBUTION:ENTRY)")
        return "\n  ".join(hints)
    python = shlex.quote(sys.executable)
    package = shlex.quote("slapkit[compat]" if missing.lower() in COMPAT else missing)
    if missing.lower() == "slapos.toolbox" and sys.version_info < (3, 12):
        hints.append(
            "slapos.toolbox needs slapos.core, which needs Python 3.12 or newer: "
            "run the runner with a Python 3.12+"
        )
        return "\n  ".join(hints)
    hints.append(
        f"to use {missing}, install it into the runner's Python: {python} -m pip install {package}"
    )
    return "\n  ".join(hints)


# The distributions slapkit's compat extra installs (pyproject.toml).
COMPAT = frozenset(
    {"slapos.recipe.build", "plone.recipe.command", "collective.recipe.template", "slapos.toolbox"}
)


def _needs_master(lines: list[str], origin: Origin) -> str | None:
    """A recipe (slapos.cookbook's) that asked a SlapOS master, whose URL is
    empty under ``slapkit deploy``."""
    if not any("/slapos/slap/" in line for line in lines):
        return None
    asked = next((m for m in map(_NO_MASTER.search, reversed(lines)) if m), None)
    if asked is None:
        return None
    from slapkit.migration.rule import is_covered, migrated

    part = _part(lines)
    recipe = origin.recipe(part) if part else None
    which = (
        f"[{part}] recipe {recipe}" if recipe else f"[{part}] its recipe" if part else "a recipe"
    )
    head = (
        f"{which} needs a SlapOS master (it asked one for {asked.group(1)}; "
        "slapkit deploy gives an empty server-url)"
    )
    migrate = f"slapkit migrate {origin.named()}"
    if recipe is None:
        return f"{head}: `{migrate}` makes the profile run locally, where slapkit has its recipe"
    slapkit_spelling = migrated(recipe)
    if slapkit_spelling and is_covered(slapkit_spelling):
        return f"{head}: `{migrate}` makes the profile run locally (with {slapkit_spelling})"
    return (
        f"{head}, and slapkit has no recipe in its place: this part runs only under SlapOS "
        f"(`{migrate}` moves the other parts to slapkit)"
    )


def _unset_base_location(lines: list[str], origin: Origin) -> str | None:
    """``${:_profile_base_location_}``, which zc.buildout does not have."""
    unset = next((m for m in map(_UNSET_OPTION.match, reversed(lines)) if m), None)
    if unset is None or unset.group(2) != "_profile_base_location_":
        return None
    read = next((m for m in map(_OPTION_READ.match, reversed(lines)) if m), None)
    section, option = (read.group(1), read.group(2)) if read else (unset.group(1), "")
    found = origin.option(section, option) if option else []
    at = f" ({origin.where(origin.config, found[0][0])})" if found else ""
    return (
        f"[{section}] {option or unset.group(1)}{at}: ${{:_profile_base_location_}} is set "
        "only by SlapOS's zc.buildout fork, and there, in a partition, it names the partition "
        "(slapgrid copies the profile there, as slapkit deploy does): give the file's "
        "absolute path, as a software release renders it into its profiles"
    )


def _syntax_error(lines: list[str], origin: Origin) -> str | None:
    """A line of the profile that buildout cannot read, at its own file and
    line: the partition's ``buildout.cfg`` is only its copy."""
    for index, line in enumerate(lines):
        errors = _PARSE_ERRORS.search(line)
        if errors:
            said = []
            for following in lines[index + 1 :]:
                found = _PARSE_ERROR_LINE.match(following)
                if not found:
                    break
                place = origin.where(errors.group(1), int(found.group(1)))
                said.append(
                    f"ParsingError: {place}: {_line_text(found.group(2))!r} is neither a "
                    "[section] header, nor an option (name = value), nor an indented line "
                    "continuing an option"
                )
            return "\n".join(said) or None
        if _NO_HEADER.search(line) and index + 2 < len(lines):
            where = _NO_HEADER_WHERE.match(lines[index + 1])
            if where:
                place = origin.where(where.group(1), int(where.group(2)))
                return (
                    f"MissingSectionHeaderError: {place}: {_line_text(lines[index + 2])!r} "
                    "comes before any [section] header (a profile starts with [buildout])"
                )
    return None


def _line_text(quoted: str) -> str:
    """The line a ParsingError quotes (its repr, newline included)."""
    try:
        text = ast.literal_eval(quoted)
    except (ValueError, SyntaxError):
        return quoted
    return str(text).rstrip("\n")
