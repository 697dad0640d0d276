"""The user's parameter values that span several lines, for the length of a run.

A line-based option (``environment``, ``context``, ``hash-files``…) takes
one entry per line. A user value with a line break that a ``${…}`` brings
into such an option would add entries of the user's choosing
(``GREETING=hi`` plus ``LD_PRELOAD=/x/evil.so``). The recipes that read
parameters register such values here; ``PartOptions.lines`` refuses an
option that holds one.
"""

from __future__ import annotations

from typing import Any

from slapkit.core.run_state import current


def register_user_values(value: Any) -> None:
    """Remember every string inside ``value`` (at any depth) that has a line break."""
    if isinstance(value, str):
        if "\n" in value:
            current().multiline_user_values.add(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            register_user_values(key)
            register_user_values(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            register_user_values(item)


def holds_multiline_user_value(text: str) -> bool:
    values = current().multiline_user_values
    return bool(values) and any(value in text for value in values)
