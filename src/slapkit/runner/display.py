"""User data as the runner shows it: on the terminal, in its summary, its
errors and the logs it writes.

Parameter values, published connection values, program and promise output
and buildout's output are data: a line break in them must not make a line
of the runner's own (``files 99 changed``), and an escape sequence must not
reach the terminal. Control characters (C0, DEL, C1), Unicode line and
paragraph separators, bidirectional overrides and lone surrogates are
written escaped, the way ``repr`` writes them.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(value: object) -> str:
    """``value`` as one line of text with its control characters escaped."""
    return _UNSAFE.sub(_escaped, str(value))


def shown_lines(text: str) -> list[str]:
    """The lines of ``text`` (output, a log), each made safe by ``shown``."""
    return [shown(line.removesuffix("\r")) for line in text.split("\n")]
