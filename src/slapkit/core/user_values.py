"""The user's parameter values that are more than plain words, for the length of a run.

A line-based option (``environment``, ``context``, ``hash-files``…) takes
one entry per line. A user value with a line break that a ``${…}`` brings
into such an option would add entries of the user's choosing
(``GREETING=hi`` plus ``LD_PRELOAD=/x/evil.so``). The recipes that read
parameters register such values here; ``PartOptions.lines`` refuses an
option that holds one.

A shell command line written by slapkit (``cron.d``'s ``command``) must not
hold a user value that a shell would read as more than one plain word
(``x; rm -rf ~``, ``$(…)``, a blank): such values are remembered too.

A directory a profile names with a user value in it must stay where the
profile puts it: a value holding a ``..`` path component (``../../x``) is
remembered, and ``mkdirectory`` refuses a path that holds one.
"""

from __future__ import annotations

import re
from typing import Any

from slapkit.core.run_state import current

# A shell's one plain word: anything but blanks, quotes, and the characters
# that separate, substitute, redirect, expand or comment (and cron's ``%``).
_SHELL_SPECIAL = re.compile(r"""[\s;&|$`<>(){}*?\[\]#~%!'"\\]""")


def register_user_values(value: Any) -> None:
    """Remember every string inside ``value`` (at any depth) that has a line
    break, or that a shell would not read as one plain word."""
    if isinstance(value, str):
        if "\n" in value:
            current().multiline_user_values.add(value)
        if _SHELL_SPECIAL.search(value) and not value.isspace():
            current().shell_special_user_values.add(value)
        components = [part.strip() for part in value.replace("\\", "/").split("/")]
        if ".." in components:
            # As buildout keeps it in an option (stripped), and as it is.
            current().climbing_user_values.update({value, value.strip()} - {""})
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


def shell_special_user_value_in(text: str) -> str | None:
    """A user value held by ``text`` that a shell would not read as one plain word."""
    for value in current().shell_special_user_values:
        if value in text:
            return value
    return None


def climbing_user_value_in(text: str) -> str | None:
    """A user value held by ``text`` with a ``..`` path component."""
    for value in current().climbing_user_values:
        if value in text:
            return value
    return None
