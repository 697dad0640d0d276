"""Serving secret option values without buildout ever storing them.

zc.buildout saves a part's options into ``.installed.cfg`` and prints them
all at ``-vv``. Both read the options' stored data; other parts' ``${…}``
references and ``options[...]`` go through ``options.get``. So a secret is
taken out of the stored data and served by an instance-level ``get``.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

from slapkit.core.buildout_internals import is_slapkit_run, peek, substituted_options, take_out
from slapkit.core.run_state import current
from slapkit.core.secrets import has_secrets, holds_secret

Lookup = Callable[[str], "str | None"]
CONCEALED_ATTRIBUTE = "slapkit_concealed"


# On an Options: the names of its concealed options that were read (used).
READ_ATTRIBUTE = "slapkit_concealed_read"
# On an Options: the concealed options the profile wrote (zc.buildout would
# report them when no recipe reads them; concealed, it cannot see them).
PROFILE_ATTRIBUTE = "slapkit_concealed_profile_options"


def conceal(options: MutableMapping[str, str], names: tuple[str, ...], lookup: Lookup) -> None:
    """Answer ``options.get(name)`` through ``lookup`` for concealed names.

    ``lookup`` returns None for an option it does not serve. ``names`` are the
    options always available (a template's ``section`` context lists them).
    """
    for name in names:
        take_out(options, name)
    stored_get = options.get
    read: set[str] = getattr(options, READ_ATTRIBUTE, set())
    setattr(options, READ_ATTRIBUTE, read)

    def get(option: str, default: Any = None, *args: Any, **kwargs: Any) -> Any:
        value = lookup(option)
        if value is not None:
            read.add(option)
            return value
        return stored_get(option, default, *args, **kwargs)

    options.get = get  # type: ignore[method-assign]
    setattr(options, CONCEALED_ATTRIBUTE, concealed_names(options) + tuple(names))


def concealed_names(options: MutableMapping[str, str]) -> tuple[str, ...]:
    names: tuple[str, ...] = getattr(options, CONCEALED_ATTRIBUTE, ())
    return names


# A value of more lines than this is served, not saved: zc.buildout's parser
# adds each line of a value to the value so far, so reading it back from
# .installed.cfg on every run costs the square of its line count (a 400,000
# line parameter: minutes a run). Nothing written by hand is this long.
LONG_VALUE_LINES = 1000


def is_long(text: str) -> bool:
    return text.count("\n") >= LONG_VALUE_LINES


def kept_out_of_installed_cfg(text: str) -> bool:
    """Whether a value is served rather than saved: it quotes a known
    secret, or it is long (``LONG_VALUE_LINES``). A slapkit part checks its
    files on update as on install, so a value it does not save still
    reaches what it writes."""
    return is_long(text) or holds_secret(text)


def conceal_secret_options(options: MutableMapping[str, str]) -> tuple[str, ...]:
    """Conceal every option whose value quotes a known secret, or is long.

    ``environment = PASSWORD=${admin:passwd}`` puts the password into the
    part's options; buildout would save it in ``.installed.cfg``.
    """
    # Only a ${…} substitution can bring another part's secret or a user's
    # long value in (this runs before the part's own recipe sets anything):
    # options the profile writes literally are not scanned (the hot path).
    # But a sub-buildout's profile was rendered by the main run: a secret
    # may be written in it (``password = {{ dumps(passwd) }}``).
    substituted = substituted_options(options)
    if current().sub_buildout and has_secrets():
        substituted = sorted(set(substituted) | set(options.keys()))
    if not substituted:
        return ()
    values = {key: peek(options, key) or "" for key in substituted}
    if has_secrets():
        names = tuple(key for key, value in values.items() if kept_out_of_installed_cfg(value))
    else:
        names = tuple(key for key, value in values.items() if is_long(value))
    if names:
        values = {name: options[name] for name in names}
        conceal(options, names, values.get)
        profile = getattr(options, PROFILE_ATTRIBUTE, ())
        setattr(options, PROFILE_ATTRIBUTE, (*profile, *names))
    return names


def unused_concealed(options: Any) -> list[str]:
    """The concealed options the profile wrote that nothing read."""
    read: set[str] = getattr(options, READ_ATTRIBUTE, set())
    return [name for name in getattr(options, PROFILE_ATTRIBUTE, ()) if name not in read]


def ensure_unused_concealed_reported() -> None:
    """zc.buildout reports a part's options no recipe read (a misspelled
    option), but a concealed one is out of its sight: in a run slapkit takes
    part in, its check reports those too, in its own words. Idempotent."""
    import zc.buildout.buildout

    module: Any = zc.buildout.buildout
    original = module._check_for_unused_options_in_section
    if getattr(original, "slapkit_original", None) is not None:
        return

    def check(buildout: Any, section: str) -> None:
        if not is_slapkit_run(buildout):
            return original(buildout, section)  # type: ignore[no-any-return]
        options = buildout[section]
        unused = sorted(
            {option for option in options._raw if option not in options._data}
            | set(unused_concealed(options))
        )
        if unused:
            names = " ".join(map(repr, unused))
            buildout._logger.warning(
                f"Section `{section}` contains unused option(s): {names}.\n"
                "This may be an indication for either a typo in the option's name "
                "or a bug in the used recipe."
            )
        return None

    check.slapkit_original = original  # type: ignore[attr-defined]
    module._check_for_unused_options_in_section = check


def section_items(options: MutableMapping[str, str]) -> dict[str, str]:
    """All of a section's options, concealed ones included (for templates)."""
    items = {key: options[key] for key in options.keys()}
    for name in concealed_names(options):
        value = options.get(name)
        if value is not None:
            items[name] = value
    return items
