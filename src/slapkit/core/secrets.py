"""Serving secret option values without buildout ever storing them.

zc.buildout saves a part's options into ``.installed.cfg`` and prints them
all at ``-vv``. Both read the options' stored data; other parts' ``${…}``
references and ``options[...]`` go through ``options.get``. So a secret is
taken out of the stored data and served by an instance-level ``get``.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager

Lookup = Callable[[str], "str | None"]
CONCEALED_ATTRIBUTE = "slapkit_concealed"
REDACTED = "<secret>"

# Every secret served in this process: an error message of any part that
# happens to quote one (e.g. an option set to ${password:passwd}) is redacted.
_known_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
# A secret this short (an imposed "passwd = ab") is matched only as a whole
# word: replaced inside other words it would garble every message, and the
# garbling itself would spell the secret out.
SHORT_SECRET = 4


def register_secret(value: str) -> None:
    global _pattern
    if value and value not in _known_secrets:
        _known_secrets.add(value)
        _pattern = None


def _secret_pattern() -> re.Pattern[str] | None:
    global _pattern
    if _pattern is None and _known_secrets:
        alternatives = [
            re.escape(secret) if len(secret) >= SHORT_SECRET
            else r"(?<![^\W_])" + re.escape(secret) + r"(?![^\W_])"
            for secret in sorted(_known_secrets, key=len, reverse=True)
        ]
        _pattern = re.compile("|".join(alternatives))
    return _pattern


def redact(text: str) -> str:
    pattern = _secret_pattern()
    return pattern.sub(REDACTED, text) if pattern else text


def holds_secret(value: str) -> bool:
    pattern = _secret_pattern()
    return bool(pattern and pattern.search(value))


def take_out(options: MutableMapping[str, str], option: str) -> str | None:
    """Remove ``option`` from every store of a buildout Options; return its value."""
    value = options.get(option)
    for store in ("_raw", "_cooked", "_data"):
        getattr(options, store, {}).pop(option, None)
    return value


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
    raw = getattr(options, "_raw", None)
    candidates = [
        key for key in list(options.keys()) if raw is None or "${" in (raw.get(key) or "")
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
