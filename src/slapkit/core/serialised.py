"""Option values that stand for Python objects, as SlapOS's zc.buildout fork writes them.

Profiles written for SlapOS's fork of zc.buildout render sub-profiles with
``{{ dumps(value) }}``, and the fork reads a value ``!py!LITERAL`` back as
the object. On PyPI's zc.buildout every option is text; slapkit's templates
get ``dumps`` (this module's, when zc.buildout has none) and slapkit's
recipes read such a value back as the object (``loads``), by
``ast.literal_eval`` only: a literal, never code.

``dumps`` writes a plain string as it is, so recipes of other
distributions read it unchanged; anything else, and a string buildout would
not keep as it is (a line break, blanks around it, a leading ``!py``, a
``$``), is ``!py!`` and its ``repr`` with every ``$`` doubled: zc.buildout
then substitutes no ``${…}`` in it, and keeps ``$$`` as it is in the value,
which ``loads`` makes ``$`` again.

A user's parameter is data: an option that carries one, or whose value a
``${…}`` built from one (directly or through other options), is never
decoded, whatever it holds. (A template that writes a user's value into a
sub-profile as text, ``{{ value }}`` rather than ``{{ dumps(value) }}``,
makes it the profile's text: render users' values with ``dumps``.)
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

MARKER = "!py!"
_NOT_PLAIN = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
# How deep a value dumps writes (and loads reads) may nest.
MAX_DEPTH = 100


class NotSerialisable(TypeError):
    """A value ``dumps`` cannot write as a literal."""


class NotALiteral(ValueError):
    """A ``!py!`` value that is not a Python literal slapkit can read."""


def dumps(value: Any) -> str:
    """``value`` as an option's text that slapkit's recipes read back as it."""
    if isinstance(value, str) and _is_plain(value):
        return value
    _check(value, 0)
    return (MARKER + repr(value)).replace("$", "$$")


def _is_plain(text: str) -> bool:
    return (
        text == text.strip()
        and not _NOT_PLAIN.search(text)
        and not text.startswith("!py")
        and "$" not in text
    )


def _check(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise NotSerialisable(f"nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, int, str, bytes)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotSerialisable(f"{value!r} has no literal")
        return
    if isinstance(value, (list, tuple, set, frozenset)):
        if isinstance(value, frozenset):
            raise NotSerialisable("a frozenset has no literal")
        for item in value:
            _check(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check(key, depth + 1)
            _check(item, depth + 1)
        return
    raise NotSerialisable(f"a {type(value).__name__} has no literal")


def is_serialised(text: str, section: str, option: str) -> bool:
    """Whether ``text``, the value of ``[section] option``, is a ``!py!``
    value the profile wrote (not one a user's parameter brought in)."""
    from slapkit.core.parameter_reads import is_user_derived

    return text.strip().startswith(MARKER) and not is_user_derived(section, option)


def loads(text: str) -> Any:
    """The object behind a ``!py!`` value. Raises NotALiteral."""
    literal = text.strip()[len(MARKER) :].replace("$$", "$")
    if len(literal) > 10_000_000:
        raise NotALiteral("longer than 10 MB")
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise NotALiteral(
            f"{_abridged(text)} is not a Python literal (SlapOS's zc.buildout fork "
            "evaluates expressions after !py!; slapkit reads literals only)"
        ) from None
    try:
        _check(value, 0)
    except NotSerialisable as exc:
        raise NotALiteral(f"{_abridged(text)}: {exc}") from None
    return value


def _abridged(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= 60 else text[:57] + "...")


def decoded(text: str, section: str, option: str) -> Any:
    """The object behind ``text``, the value of ``[section] option``, when it
    is a profile's ``!py!`` value; else ``text``."""
    return loads(text) if is_serialised(text, section, option) else text


def option_text(text: str, section: str, option: str) -> str:
    """What a recipe reading text sees of ``[section] option`` holding
    ``text``: a profile's ``!py!`` value as the text of what it stands for
    (``as_option_text``; None as empty), else ``text``. Raises NotALiteral."""
    if not is_serialised(text, section, option):
        return text
    return as_option_text(loads(text)) or ""


def as_option_text(value: Any) -> str | None:
    """What a recipe reading text sees of a decoded value: a string as it
    is, a number as written, a boolean as ``true``/``false``, None as no
    value, anything else as JSON."""
    import json

    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, (set, tuple)):
        value = sorted(value, key=repr) if isinstance(value, set) else list(value)
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)
