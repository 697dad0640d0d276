"""The one migration rule, and which recipes slapkit covers.

``slapos.cookbook:NAME`` becomes ``slapkit:NAME``;
``slapos.recipe.template:jinja2`` becomes ``slapkit:jinja2``; plain
``slapos.recipe.template`` becomes ``slapkit:template``. Nothing else
changes. A migrated name is *covered* when slapkit has an entry point of
that name (read from the installed distribution, so the answer follows the
code).
"""

from __future__ import annotations

import functools
import importlib.metadata
import re

COOKBOOK = "slapos.cookbook"
TEMPLATE = "slapos.recipe.template"
# A recipe specification: a distribution (optionally with a version
# requirement, rare in instance profiles), then ``:entry``.
_SPEC = re.compile(r"(?P<distribution>[A-Za-z0-9_.\-]+)(?::(?P<entry>[A-Za-z0-9_.\-]+))?\Z")


def migrated(spec: str) -> str | None:
    """The slapkit spelling of a recipe specification, or None when the rule
    does not apply to it (another distribution, or a computed name)."""
    match = _SPEC.match(spec.strip())
    if match is None:
        return None
    distribution, entry = match.group("distribution"), match.group("entry")
    if distribution == COOKBOOK and entry:
        return f"slapkit:{entry}"
    if distribution == TEMPLATE:
        return "slapkit:jinja2" if entry == "jinja2" else "slapkit:template" if not entry else None
    return None


@functools.cache
def provided() -> frozenset[str]:
    """slapkit's recipe entry points, as ``slapkit:NAME``."""
    return frozenset(
        f"slapkit:{point.name}"
        for point in importlib.metadata.entry_points(group="zc.buildout")
        if point.dist is not None and point.dist.name == "slapkit"
    )


def is_covered(spec: str) -> bool:
    return spec.strip() in provided()
