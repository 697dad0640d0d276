"""What a migrated part does differently under slapkit: one place.

Keyed by slapkit's recipe name. Each entry lists the options the cookbook
recipe knows and slapkit's namesake refuses (``unsupported``: the run stops
with an error naming part and option, nothing is dropped silently), and
options or defaults whose meaning differs (``different``). The corpus test
(tests/test_corpus.py) lists the rendered-file differences with the same
reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from slapkit.core.options import TRUE_WORDS
from slapkit.migration.profile_text import Section
from slapkit.recipes import publish, template, wrapper


@dataclass(frozen=True)
class Finding:
    line: int
    part: str
    kind: str  # "not covered", "computed", "not supported", "differs"
    message: str


@dataclass(frozen=True)
class RecipeDifferences:
    unsupported: dict[str, str] = field(default_factory=dict)
    different: dict[str, str] = field(default_factory=dict)
    part_check: Callable[[Section], list[tuple[int, str]]] | None = None


_KEEP_ARGUMENTS = "parameters-extra = true to keep the cookbook's behaviour"


def _wrapper_arguments(section: Section) -> list[tuple[int, str]]:
    """The cookbook's wrapper passes its own arguments on ("$@") whatever
    its ``parameters-extra`` says; slapkit's only when it is true."""
    option = section.get("parameters-extra")
    if option is None:
        recipe = section.recipe
        assert recipe is not None  # only asked of a part whose recipe migrated
        return [
            (
                recipe.line,
                'the cookbook\'s wrapper always passes its own arguments on ("$@"), '
                f"slapkit's does not: add {_KEEP_ARGUMENTS}",
            )
        ]
    if option.value.strip().lower() in TRUE_WORDS:
        return []
    return [
        (
            option.line,
            f"parameters-extra = {option.value.strip()}: the cookbook's wrapper ignores it "
            'and always passes its own arguments on ("$@"), slapkit\'s passes them only '
            f"when it is true: set {_KEEP_ARGUMENTS}",
        )
    ]


KNOWN: dict[str, RecipeDifferences] = {
    "slapkit:wrapper": RecipeDifferences(
        unsupported=dict.fromkeys(
            wrapper.NOT_IMPLEMENTED, "not implemented by slapkit's wrapper yet (refused)"
        ),
        part_check=_wrapper_arguments,
    ),
    "slapkit:generate.password": RecipeDifferences(
        different={
            "create-once": "slapkit always keeps the stored password: "
            "create-once = false is refused",
        }
    ),
    "slapkit:publish": RecipeDifferences(
        unsupported=dict.fromkeys(
            publish.NOT_IMPLEMENTED, "not implemented by slapkit's publish yet (refused)"
        )
    ),
    "slapkit:check_url_available": RecipeDifferences(
        different=dict.fromkeys(
            ("dash_path", "curl_path"),
            "accepted and unused: slapkit's check is Python (the URL never goes through a shell)",
        )
    ),
    "slapkit:slapconfiguration.jsonschema": RecipeDifferences(
        different={
            "unstringify": "slapkit converts strings to integer, number, boolean (any case), "
            "object, array and null; the cookbook to integer and boolean ('True'/'False') only",
        }
    ),
    "slapkit:jinja2": RecipeDifferences(
        unsupported=dict.fromkeys(
            template.NOT_IMPLEMENTED, "not implemented by slapkit's jinja2 (refused)"
        )
    ),
}


def findings_for(section: Section, recipe: str) -> list[Finding]:
    known = KNOWN.get(recipe)
    if known is None:
        return []
    found = []
    for option in section.options:
        if option.name in known.unsupported:
            found.append(
                Finding(
                    option.line,
                    section.name,
                    "not supported",
                    f"{option.name}: {known.unsupported[option.name]}",
                )
            )
        elif option.name in known.different:
            found.append(
                Finding(
                    option.line,
                    section.name,
                    "differs",
                    f"{option.name}: {known.different[option.name]}",
                )
            )
    if known.part_check is not None:
        found += [
            Finding(line, section.name, "differs", text) for line, text in known.part_check(section)
        ]
    return found
