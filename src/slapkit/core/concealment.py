"""Serving secret option values without buildout ever storing them.

zc.buildout saves a part's options into ``.installed.cfg`` and prints them
all at ``-vv``. Both read the options' stored data; other parts' ``${…}``
references and ``options[...]`` go through ``options.get``. So a secret is
taken out of the stored data and served by an instance-level ``get``.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

from slapkit.core.buildout_internals import substituted_options, take_out
from slapkit.core.secrets import has_secrets, holds_secret

Lookup = Callable[[str], "str | None"]
CONCEALED_ATTRIBUTE = "slapkit_concealed"


def conceal(options: MutableMapping[str, str], names: tuple[str, ...], lookup: Lookup) -> None:
    """Answer ``options.get(name)`` through ``lookup`` for concealed names.

    ``lookup`` returns None for an option it does not serve. ``names`` are the
    options always available (a template's ``section`` context lists them).
    """
    for name in names:
        take_out(options, name)
    stored_get = options.get

    def get(option: str, default: Any = None, *args: Any, **kwargs: Any) -> Any:
        value = lookup(option)
        if value is not None:
            return value
        return stored_get(option, default, *args, **kwargs)

    options.get = get  # type: ignore[method-assign]
    setattr(options, CONCEALED_ATTRIBUTE, concealed_names(options) + tuple(names))


def concealed_names(options: MutableMapping[str, str]) -> tuple[str, ...]:
    names: tuple[str, ...] = getattr(options, CONCEALED_ATTRIBUTE, ())
    return names


def conceal_secret_options(options: MutableMapping[str, str]) -> tuple[str, ...]:
    """Conceal every option whose value quotes a known secret.

    ``environment = PASSWORD=${admin:passwd}`` puts the password into the
    part's options; buildout would save it in ``.installed.cfg``.
    """
    if not has_secrets():
        return ()
    # Only a ${…} substitution can bring another part's secret in (this runs
    # before the part's own recipe sets anything): options the profile writes
    # literally are not scanned (the hot path).
    names = tuple(key for key in substituted_options(options) if holds_secret(options[key]))
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
