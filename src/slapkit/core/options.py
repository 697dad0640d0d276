"""Typed reading of a part's options.

Every parser raises ``zc.buildout.UserError`` of the form
``[part] option: what is wrong``. An empty value counts as an absent one,
as a SlapOS profile author expects (``second-disk-location =``).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from typing import overload

from slapkit.core.errors import option_error
from slapkit.core.serialised import NotALiteral, option_text
from slapkit.core.user_values import holds_multiline_user_value

# C0 controls and DEL: no real path holds one, and a NUL makes every os call fail.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})


class PartOptions:
    """Read and validate the options of one buildout part."""

    def __init__(self, part: str, options: Mapping[str, str]):
        self.part = part
        self.options = options

    def error(self, option: str, message: str) -> Exception:
        return option_error(self.part, option, message)

    @overload
    def text(self, option: str) -> str | None: ...

    @overload
    def text(self, option: str, default: str) -> str: ...

    def text(self, option: str, default: str | None = None) -> str | None:
        """The value with surrounding blanks stripped; ``default`` when empty.
        A profile's ``!py!`` value (SlapOS's fork's serialised object) is
        read as its text (see serialised.option_text)."""
        value = self.options.get(option)
        if value is None:
            return default
        value = value.strip()
        try:
            value = option_text(value, self.part, option)
        except NotALiteral as exc:
            raise self.error(option, str(exc)) from None
        return value if value else default

    def required(self, option: str) -> str:
        value = self.text(option)
        if value is None:
            raise self.error(option, "is required and was not given")
        return value

    def boolean(self, option: str, default: bool = False) -> bool:
        value = self.text(option)
        if value is None:
            return default
        word = value.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise self.error(option, f"{value!r} is not a boolean (true/yes/on/1 or false/no/off/0)")

    def integer(
        self,
        option: str,
        default: int,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        value = self.text(option)
        if value is None:
            return default
        if not _WHOLE_NUMBER.match(value):  # int() takes "+5", "1_000" and other digits
            raise self.error(option, f"{value!r} is not a whole number")
        number = int(value, 10)
        if minimum is not None and number < minimum:
            raise self.error(option, f"{number} is less than {minimum}")
        if maximum is not None and number > maximum:
            raise self.error(option, f"{number} is more than {maximum}")
        return number

    def mode(self, option: str = "mode", default: int | None = None) -> int | None:
        """An octal file mode such as ``0750`` or ``750``."""
        value = self.text(option)
        if value is None:
            return default
        if not _OCTAL_MODE.match(value):  # int(, 8) takes "+7_50" too
            raise self.error(option, f"{value!r} is not an octal file mode")
        mode = int(value, 8)  # 0o750 and 0O750 too
        if mode > 0o7777:
            raise self.error(option, f"{value!r} is not an octal file mode")
        return mode

    def lines(self, option: str) -> list[str]:
        """Non-empty lines, stripped: one entry each.

        Lines are split at ``\\n`` only (buildout's own line break), and a
        user's parameter value with a line break, brought in by ``${…}``,
        is refused: it would add entries of the user's choosing.
        """
        value = self.options.get(option) or ""
        if holds_multiline_user_value(value):
            raise self.error(
                option,
                "a parameter value of several lines was substituted into this "
                "line-based option (one entry a line): it would add entries",
            )
        return [line.strip() for line in value.split("\n") if line.strip()]

    def checked_path(self, option: str, path: str) -> str:
        """``path`` itself, refused when it holds a control character (NUL, newline…)."""
        found = _CONTROL.search(path)
        if found:
            raise self.error(
                option,
                f"{path!r} is not a usable path: it holds the control character {found.group()!r}",
            )
        return path

    def path(self, option: str) -> str | None:
        """A path (relative ones are kept as given); None when empty."""
        value = self.text(option)
        return None if value is None else self.checked_path(option, value)

    def paths(self, option: str) -> list[str]:
        """Non-empty lines, each an absolute path (relative ones are refused)."""
        paths = [self.checked_path(option, path) for path in self.lines(option)]
        for path in paths:
            if not os.path.isabs(path):
                raise self.error(option, f"{path!r} is not an absolute path")
        return paths

    def command(self, option: str) -> list[str]:
        """A shell-like command line split into arguments (quotes honoured)."""
        value = self.required(option)
        if "\x00" in value:
            raise self.error(option, "holds a NUL byte, which no program argument can")
        try:
            words = shlex.split(value)
        except ValueError as exc:
            raise self.error(option, f"cannot split {value!r}: {exc}") from None
        if not words:
            raise self.error(option, "is required and was not given")
        return words

    def assignments(self, option: str) -> list[tuple[str, str]]:
        """Lines of ``NAME=value``; NAME must be a valid environment name."""
        pairs = []
        for line in self.lines(option):
            name, sep, value = line.partition("=")
            name = name.strip()
            if not sep or not name or not _is_identifier(name):
                raise self.error(option, f"{line!r} is not of the form NAME=value")
            if "\x00" in value:
                raise self.error(option, f"the value of {name} holds a NUL byte")
            pairs.append((name, value.strip()))
        return pairs


_OCTAL_MODE = re.compile(r"(?:0[oO])?[0-7]{1,6}\Z")
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,30}\Z")


def _is_identifier(name: str) -> bool:
    return name.replace("_", "a").isalnum() and name.isascii() and not name[0].isdigit()
