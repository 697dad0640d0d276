"""Python objects behind option values, for templates.

slapos.cookbook's slapconfiguration sets dicts and sets as options, which
only SlapOS's fork of zc.buildout accepts; a template's ``key`` context
then receives the object. Upstream zc.buildout options are strings, so
slapkit sets a text form (JSON; a set as a sorted list) and remembers the
object beside it for the length of the run: ``object_behind`` gives it
back while the option still holds that text, so a profile that overrides
the option gets its own string.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

from slapkit.core.run_state import current
from slapkit.core.serialised import decoded


def as_text(value: Any) -> str:
    """An option's text for ``value``: a string as is, else JSON (sorted keys,
    sets as sorted lists)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=lambda item: (type(item).__name__, str(item)))
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def remember(section: str, option: str, text: str, value: Any) -> None:
    """``value`` is the object behind ``[section] option`` while it reads ``text``."""
    if not isinstance(value, str):
        current().objects[(section, option)] = (text, value)


def object_behind(section: str, option: str, text: Any) -> Any:
    """The object behind ``[section] option`` when it still reads ``text``;
    the object a profile's ``!py!`` value stands for (SlapOS's fork's
    serialised form); else ``text`` itself. Raises NotALiteral."""
    found = current().objects.get((section, option))
    if found is not None and found[0] == text:
        return found[1]
    return decoded(text, section, option) if isinstance(text, str) else text


def with_objects(section: str, items: MutableMapping[str, Any]) -> dict[str, Any]:
    """A section's items with the objects behind them (a ``section`` context)."""
    return {key: object_behind(section, key, value) for key, value in items.items()}
