"""Every use of zc.buildout's private ``Options`` internals, in one place.

zc.buildout 3.0.1 through 6.x keep a section's options in three dicts:
``_raw`` (the profile's text), ``_cooked`` (substituted when the section is
read) and ``_data`` (what ``get`` returns, and what recipes set). slapkit
relies on that layout for three things, each tested per supported
zc.buildout version in ``tests/test_buildout_internals.py``, which fails
loudly if a new release changes it:

- hiding a secret option from ``.installed.cfg`` and ``-vv`` (``take_out``);
- reading the profile's own text of an option (``raw_value``);
- substituting each ``${…}`` exactly once (``ensure_single_substitution``),
  also for the options saved in ``.installed.cfg``, which are final values;
- the form a value takes once saved and read back (``as_read_back``);
- a section constructed with options set beforehand (``initialize_with``,
  for publish-early: ``Buildout.Options``, ``_data``).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import MutableMapping
from typing import Any

from slapkit.core.parameter_reads import note_read, note_substituted

STORES = ("_raw", "_cooked", "_data")
_PATCHED = "slapkit_single_substitution"
_ORIGINAL_GET = "slapkit_original_get"
# Set on a Buildout whose run loads slapkit (a slapkit recipe, the extension):
# zc.buildout behaves as upstream in every other run of the process.
_RUN_MARK = "slapkit_run"


def mark_slapkit_run(buildout: Any) -> None:
    """Say that ``buildout``'s run is one slapkit takes part in: its options
    are substituted once (``ensure_single_substitution``)."""
    try:
        setattr(buildout, _RUN_MARK, True)
    except (AttributeError, TypeError):  # not zc.buildout's: nothing to scope
        pass


def is_slapkit_run(buildout: Any) -> bool:
    return bool(getattr(buildout, _RUN_MARK, False))


def zc_buildout_get() -> Any:
    """zc.buildout's own ``Options.get``, whether slapkit's stands in for it or not."""
    import zc.buildout.buildout

    options_class: Any = zc.buildout.buildout.Options
    return options_class.__dict__.get(_ORIGINAL_GET) or options_class.__dict__["get"]


def take_out(options: MutableMapping[str, str], option: str) -> str | None:
    """Remove ``option`` from every store of a buildout Options; return its value."""
    value = options.get(option)
    for store in STORES:
        getattr(options, store, {}).pop(option, None)
    return value


def raw_value(options: MutableMapping[str, str], option: str) -> str | None:
    """The option as the profile writes it, before substitution (None when a
    recipe set it, or for a plain dict)."""
    raw = getattr(options, "_raw", None)
    return raw.get(option) if isinstance(raw, dict) else None


def substituted_options(options: MutableMapping[str, str]) -> list[str]:
    """The options whose profile text holds a ``${…}`` (every option of a
    plain mapping, which has no profile text to tell)."""
    raw = getattr(options, "_raw", None)
    if not isinstance(raw, dict):
        return list(options.keys())
    return [key for key, text in raw.items() if "${" in text]


def peek(options: MutableMapping[str, str], option: str) -> str | None:
    """The option's value, without telling zc.buildout it was used: reading
    an option through ``get`` marks it used, and zc.buildout reports only
    the unused ones (a misspelled option must still be reported)."""
    data = getattr(options, "_data", None)
    cooked = getattr(options, "_cooked", None)
    if isinstance(data, dict) and isinstance(cooked, dict):
        for store in (data, cooked):
            if option in store:
                value: str = store[option]
                return value
    return options.get(option)


def ensure_single_substitution() -> None:
    """Make zc.buildout substitute every ``${…}`` once, never the values it brought in.

    When a section is read, zc.buildout substitutes each option and keeps the
    result in ``_cooked``; ``Options.get`` then substitutes that result a
    second time. A value that a ``${…}`` brought in is data (a user's
    parameter): a ``${admin-password:passwd}`` inside it would be expanded
    into the password, and a ``${nosuch:x}`` would fail every later run. A
    cooked value is final, so ``get`` returns it as it is. Idempotent.

    Only in a run slapkit takes part in (``mark_slapkit_run``): the class is
    zc.buildout's for the whole process, and every other buildout run in it
    (a test's baseline with slapos.recipe.template, say) gets upstream's
    ``get`` unchanged.
    """
    import zc.buildout.buildout

    options_class: Any = zc.buildout.buildout.Options
    if getattr(options_class, _PATCHED, False):
        return
    original_get = options_class.get

    def get(self: Any, option: str, default: Any = None, seen: Any = None) -> Any:
        value = _get(self, option, default, seen)
        if seen and is_slapkit_run(self.buildout):
            # The option being substituted is the last of the chain: what
            # it took from a user's parameter is a user's too.
            note_substituted(self.name, option, seen[-1])
        return value

    def _get(self: Any, option: str, default: Any = None, seen: Any = None) -> Any:
        data = self._data
        if seen is not None and is_slapkit_run(self.buildout):
            # A ${section:option} of another option (zc.buildout passes the
            # chain it follows): the profile reads it. zc.buildout's own
            # reads (comparing a part's options with the record) pass none.
            note_read(self.name, option)
        if option not in data:
            current = _is_current(self)
            if current and not is_slapkit_run(self.buildout):
                return original_get(self, option, default, seen)
            cooked = self._cooked.get(option)
            if cooked is None and not current:
                # Read from .installed.cfg: what the options were, final. A
                # "${x:y}" there is a value a substitution brought in (a
                # user's), not a reference; substituting it failed and left
                # .installed.cfg empty. (zc.buildout reads the file before
                # any recipe is loaded, so this holds in every run: upstream
                # fails where it differs.)
                cooked = self._raw.get(option)
            if cooked is not None:
                data[option] = cooked
                return cooked
        return original_get(self, option, default, seen)

    original_eq = options_class.__eq__

    def eq(self: Any, other: Any) -> Any:
        # zc.buildout compares a part's options with its record on every
        # rerun, which reads (so "uses") every option: a misspelled one was
        # reported on a partition's first run only. The comparison leaves
        # nothing read.
        if not is_slapkit_run(self.buildout):
            return original_eq(self, other)
        before = set(self._data)
        try:
            return original_eq(self, other)
        finally:
            for option in set(self._data) - before:
                del self._data[option]

    get.__doc__ = original_get.__doc__
    options_class.get = get
    options_class.__eq__ = eq
    setattr(options_class, _ORIGINAL_GET, original_get)
    setattr(options_class, _PATCHED, True)


def _is_current(options: Any) -> bool:
    """Whether ``options`` is a section of the running configuration (the one
    its buildout hands out), not one read back from ``.installed.cfg``."""
    sections = getattr(options.buildout, "_data", options.buildout)
    try:
        return bool(dict.get(sections, options.name) is options)
    except TypeError:  # not a dict: not zc.buildout's own
        return True


def substitute(options: MutableMapping[str, str], option: str, template: str) -> str:
    """``template`` (a piece of the option's raw text) with its ``${…}`` substituted once.

    zc.buildout's own substitution, so references, escapes and errors are
    exactly buildout's. A plain dict (tests) has nothing to substitute.
    """
    if "${" not in template:
        return template
    return _substitute_pieces(options, option, template, escape="$$")


def substitute_text(options: MutableMapping[str, str], option: str, text: str) -> str:
    """A template's ``text`` as slapos.recipe.template makes it: each ``${…}``
    substituted once by zc.buildout (references, escapes and errors are
    buildout's), ``$$`` giving ``$``."""
    return _substitute_pieces(options, option, text, escape="$")


def _substitute_pieces(
    options: MutableMapping[str, str], option: str, text: str, escape: str
) -> str:
    """``text``'s pieces between ``$$`` substituted by zc.buildout, joined by
    ``escape`` (``$$`` kept for a later substitution, or ``$``)."""
    sub = getattr(options, "_sub", None)
    pieces = text.split("$$")
    if sub is None:
        return escape.join(pieces)
    name = getattr(options, "name", "")
    return escape.join(sub(piece, [(name, option)]) for piece in pieces)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def as_read_back(value: str) -> str:
    """``value`` as zc.buildout reads it back from ``.installed.cfg``.

    zc.buildout saves every option there and compares it, on the next run,
    with what the part is given: a value that does not survive the trip (a
    CR, read as a line break; a leading or trailing tab or control
    character, stripped) would make the part reinstall on every run; a lone
    surrogate, which JSON can carry and UTF-8 cannot, would stop zc.buildout
    writing the file at all: it becomes U+FFFD. The option is given the
    value it will read back.

    The value is saved with zc.buildout's own ``_save_option`` and read back
    here line by line as ``zc.buildout.configparser.parse`` reads an option
    (its continuation lines each start with the tab the saving put there):
    the parser itself adds each line to the value so far, which costs the
    square of the line count (a value of 100,000 lines: seconds). The tests
    check this reading against the parser's.
    """
    import io

    import zc.buildout.buildout
    import zc.buildout.configparser

    text = _LONE_SURROGATE.sub("\ufffd", value.replace("\r\n", "\n").replace("\r", "\n"))
    stream = io.StringIO()
    zc.buildout.buildout._save_option("o", text, stream)
    saved = stream.getvalue()
    # "o = VALUE\n": the option line's value, then one continuation a line.
    first, *continued = saved[len("o = ") : -1].split("\n")
    first = first.strip()
    block = not first  # the parser's "blockmode": the value starts on the next line
    lines = [first]
    for line in continued:
        if not line[:1].isspace():
            return _read_back_by_parser(saved)  # not what _save_option writes: ask the parser
        if block:
            lines.append(line.rstrip())
        elif line.strip():
            lines.append(line.strip())
    back = "\n".join(lines)
    if back[:1].isspace():
        back = zc.buildout.configparser.leading_blank_lines.sub("", textwrap.dedent(back.rstrip()))
    for key, replacement in zc.buildout.buildout._spacey_defaults:
        back = back.replace(key, replacement)
    return back


def _read_back_by_parser(saved: str) -> str:
    import io

    import zc.buildout.buildout
    import zc.buildout.configparser

    try:
        back: str = zc.buildout.configparser.parse(io.StringIO("[s]\n" + saved), "<value>")[
            "s"
        ].get("o", "")
    except Exception:  # noqa: BLE001 - a value buildout cannot read is kept as is
        return saved[len("o = ") : -1]
    for key, replacement in zc.buildout.buildout._spacey_defaults:
        back = back.replace(key, replacement)
    return back


class AlreadyInitialized(Exception):
    """The section was read already: its recipe ran with the values it had."""


def initialize_with(buildout: Any, section: str, values: dict[str, str]) -> Any:
    """Read ``section`` (constructing its recipe) with ``values`` set as its
    options first, as final values: no substitution, whatever they hold.

    zc.buildout's ``Buildout.__getitem__`` makes a section's Options with
    ``self.Options`` and initializes it at once; an Options class given to
    this buildout alone, for this one section, sets the values in between.
    Raises AlreadyInitialized, and KeyError for a section that does not exist.
    """
    if section in buildout._data:
        raise AlreadyInitialized(section)
    if section not in buildout._raw:
        raise KeyError(section)
    options_class = buildout.Options
    own = vars(buildout).get("Options")

    def preset(owner: Any, name: str, data: dict[str, str]) -> Any:
        options = options_class(owner, name, data)
        if name == section:
            options._data.update(values)
        return options

    buildout.Options = preset
    try:
        return buildout[section]
    finally:
        if own is not None:
            buildout.Options = own
        else:
            del buildout.Options
