"""Serving secret option values without buildout ever storing them.

zc.buildout saves a part's options into ``.installed.cfg`` and prints them
all at ``-vv``. Both read the options' stored data; other parts' ``${…}``
references and ``options[...]`` go through ``options.get``. So a secret is
taken out of the stored data and served by an instance-level ``get``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager

from slapkit.core.buildout_internals import raw_value, take_out

Lookup = Callable[[str], "str | None"]
CONCEALED_ATTRIBUTE = "slapkit_concealed"
REDACTED = "<secret>"

# Every secret served in this process: an error message of any part that
# happens to quote one (e.g. an option set to ${password:passwd}) is redacted.
_known_secrets: set[str] = set()
# A secret this short (an imposed "passwd = ab") is matched only as a whole
# word: replaced inside other words it would garble every message, and the
# garbling itself would spell the secret out.
SHORT_SECRET = 4
_long_secrets: set[str] = set()
_short_secrets: set[str] = set()
# Compiled on demand. Not used by holds_secret, which every part calls: a
# profile with hundreds of passwords would recompile an ever longer
# alternation after each one (quadratic; it was half of a rerun's time).
_patterns: dict[bool, re.Pattern[str] | None] = {}


def register_secret(value: str) -> None:
    """Remember ``value`` as a secret, and its JSON-escaped form when that differs
    (a secret with a quote or an accent inside ``parameters-json``)."""
    escaped = json.dumps(value)[1:-1] if value else value
    if escaped != value:
        _register(escaped)
    _register(value)


def _register(value: str) -> None:
    if value and value not in _known_secrets:
        _known_secrets.add(value)
        _patterns.pop(False, None)
        if len(value) < SHORT_SECRET:
            _short_secrets.add(value)
            _patterns.pop(True, None)
        else:
            _long_secrets.add(value)


def forget_secrets() -> None:
    """Forget every secret (a new buildout run in the same process: tests)."""
    _known_secrets.clear()
    _long_secrets.clear()
    _short_secrets.clear()
    _patterns.clear()


def _word(secret: str) -> str:
    return r"(?<![^\W_])" + re.escape(secret) + r"(?![^\W_])"


def _secret_pattern(short_only: bool = False) -> re.Pattern[str] | None:
    if short_only not in _patterns:
        chosen = _short_secrets if short_only else _known_secrets
        alternatives = [
            re.escape(secret) if len(secret) >= SHORT_SECRET else _word(secret)
            for secret in sorted(chosen, key=len, reverse=True)
        ]
        _patterns[short_only] = re.compile("|".join(alternatives)) if alternatives else None
    return _patterns[short_only]


def redact(text: str) -> str:
    pattern = _secret_pattern()
    return pattern.sub(REDACTED, text) if pattern else text


def holds_secret(value: str) -> bool:
    if any(secret in value for secret in _long_secrets):
        return True
    pattern = _secret_pattern(short_only=True) if _short_secrets else None
    return bool(pattern and pattern.search(value))


def conceal(options: MutableMapping[str, str], names: tuple[str, ...], lookup: Lookup) -> None:
    """Answer ``options.get(name)`` through ``lookup`` for concealed names.

    ``lookup`` returns None for an option it does not serve. ``names`` are the
    options always available (a template's ``section`` context lists them).
    """
    for name in names:
        take_out(options, name)
    stored_get = options.get

    def get(option, default=None, *args, **kwargs):
        value = lookup(option)
        if value is not None:
            return value
        return stored_get(option, default, *args, **kwargs)

    options.get = get  # type: ignore[method-assign]
    setattr(options, CONCEALED_ATTRIBUTE, concealed_names(options) + tuple(names))


def concealed_names(options: MutableMapping[str, str]) -> tuple[str, ...]:
    return getattr(options, CONCEALED_ATTRIBUTE, ())


def conceal_secret_options(options: MutableMapping[str, str]) -> tuple[str, ...]:
    """Conceal every option whose value quotes a known secret.

    ``environment = PASSWORD=${admin:passwd}`` puts the password into the
    part's options; buildout would save it in ``.installed.cfg``.
    """
    if not _known_secrets:
        return ()
    # Only a ${…} substitution can bring another part's secret in: options
    # written literally in the profile are not scanned (the hot path).
    candidates = [
        key for key in list(options.keys()) if "${" in (raw_value(options, key) or "${")
    ]
    names = tuple(key for key in candidates if holds_secret(options[key]))
    if names:
        values = {name: options[name] for name in names}
        conceal(options, names, values.get)
    return names


def section_items(options: MutableMapping[str, str]) -> dict[str, str]:
    """All of a section's options, concealed ones included (for templates)."""
    items = {key: options[key] for key in options.keys()}
    for name in concealed_names(options):
        value = options.get(name)
        if value is not None:
            items[name] = value
    return items


@contextmanager
def locked_directory(path: str) -> Iterator[None]:
    """An exclusive lock held on a directory while two runs could race."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
