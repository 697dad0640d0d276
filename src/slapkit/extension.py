"""The zc.buildout extension ``[buildout] extensions = slapkit``.

zc.buildout keeps what it installed in ``.installed.cfg``: it rewrites the
file in place after each part it installs (``open(path, "w")``: truncated,
then written) and appends a ``[buildout]`` section after each part it
updates, also when nothing changed. An unchanged rerun of a 900-part
profile writes it about 900 times, and a run killed meanwhile leaves it
empty or cut, which fails every later run. With this extension the file is
written only when what zc.buildout reads from it changes, and then
atomically (a temporary file in the same directory, fsync, rename): an
unchanged rerun writes it zero times, and a kill at any moment leaves the
old file or the new one. The format is zc.buildout's own (its
``_save_options``): a file written here and one written by zc.buildout are
byte for byte the same.

zc.buildout serialises every installed part again each time it saves the
record, once per part it installs: a first run of N parts costs N*N section
serialisations, most of a 900-part first run. Here each section's text is
kept while its options stay the same, so a save costs one join. zc.buildout
also resolves a recipe's requirements twice per part (its signature, then
loading its entry point) although they cannot change within a run: here each
recipe is resolved and loaded once per process. A recipe pip installed is
signed by reading all of site-packages: that digest is kept between runs
(``slapkit.dir_hash_store``).

``slapkit deploy`` turns it on for its runs; under slapgrid, a profile opts
in with the one line. zc.buildout calls every installed extension when a
profile names any, so naming another extension turns this one on too.
"""

from __future__ import annotations

import io
import locale
import logging
import os
from dataclasses import dataclass
from typing import Any

from slapkit import dir_hash_store
from slapkit.core.files import remove_stale_temporaries, write_if_changed
from slapkit.core.parameter_reads import keep_report

_MARK = "slapkit_installed_cfg"
# Set on each Buildout that loaded the extension (and on the sub-buildouts
# its parts run): the class is zc.buildout's for the whole process, and a
# Buildout without it behaves as upstream.
_LOADED = "slapkit_extension"
# Set on the class once every buildout of the process loads the extension.
_PROCESS_MARK = "slapkit_extension_for_the_process"


def load(buildout: Any = None) -> None:
    """The extension's entry point: ``buildout`` (and the sub-buildouts its
    parts run) keeps ``.installed.cfg`` the slapkit way; other buildouts of
    the process are zc.buildout's own."""
    import zc.buildout.buildout

    from slapkit.core.buildout_internals import mark_slapkit_run

    if buildout is not None:
        setattr(buildout, _LOADED, True)
        mark_slapkit_run(buildout)
    buildout_class: Any = zc.buildout.buildout.Buildout
    if getattr(buildout_class, _MARK, False):
        return
    original_read = buildout_class._read_installed_part_options
    original_save = buildout_class._save_installed_options
    original_signatures = buildout_class._compute_part_signatures
    original_update = buildout_class._update_installed
    original_unload = buildout_class._unload_extensions

    def read_installed_part_options(self: Any) -> Any:
        result = original_read(self)
        if loaded_by(self):
            _remember_read(self["buildout"]["installed"], result[0].get("buildout"))
        return result

    def save_installed_options(self: Any, installed_options: Any) -> None:
        if not loaded_by(self):
            return original_save(self, installed_options)  # type: ignore[no-any-return]
        return _save_installed_options(self, installed_options)

    def compute_part_signatures(self: Any, parts: Any) -> None:
        if not loaded_by(self):
            return original_signatures(self, parts)  # type: ignore[no-any-return]
        return _compute_part_signatures(self, parts)

    def update_installed(self: Any, **buildout_options: str) -> None:
        if not loaded_by(self):
            return original_update(self, **buildout_options)  # type: ignore[no-any-return]
        return _update_installed(self, **buildout_options)

    def unload_extensions(self: Any) -> Any:
        if loaded_by(self):
            # The end of a successful install (zc.buildout calls it last):
            # this run's own, never another's (a sub-buildout's parent).
            _flush(self, self["buildout"]["installed"])
            dir_hash_store.of(self).flush()
            keep_report(self["buildout"]["directory"])
        return original_unload(self)

    buildout_class._read_installed_part_options = read_installed_part_options
    buildout_class._save_installed_options = save_installed_options
    buildout_class._compute_part_signatures = compute_part_signatures
    buildout_class._update_installed = update_installed
    buildout_class._unload_extensions = unload_extensions
    module: Any = zc.buildout.buildout
    # Both only act inside a run that loaded the extension: _install_and_load
    # is given the buildout, _dir_hash keeps digests only while such a run
    # signs its parts (dir_hash_store.signing).
    module._install_and_load = _loading_once(module._install_and_load)
    module._dir_hash = dir_hash_store.keeping(module._dir_hash)
    setattr(buildout_class, _MARK, True)


def load_for_this_process() -> None:
    """The runner's process (``slapkit deploy`` runs buildout in one of its
    own): every buildout made in it loads the extension, as a profile with
    ``extensions = slapkit`` would, whatever extensions the profile names."""
    import zc.buildout.buildout

    load()
    buildout_class: Any = zc.buildout.buildout.Buildout
    if getattr(buildout_class, _PROCESS_MARK, False):
        return
    original_init = buildout_class.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        load(self)

    buildout_class.__init__ = init
    setattr(buildout_class, _PROCESS_MARK, True)


def loaded_by(buildout: Any) -> bool:
    return bool(getattr(buildout, _LOADED, False))


@dataclass
class _Record:
    """The file as last read or written: its text, the values of its
    ``[buildout]`` section as zc.buildout reads them, its (inode, size, mtime)."""

    text: str
    buildout: dict[str, str]
    signature: tuple[int, int, int] | None
    # The recorded parts as a set, and the text it was made from.
    parts_key: str | None = None
    parts_set: frozenset[str] = frozenset()
    # The last ``parts`` found to name the same parts as the record.
    same_parts: str | None = None


_records: dict[str, _Record] = {}
_cleaned: set[str] = set()
# [buildout] values to record once the run is over, kept on the run's
# Buildout: while zc.buildout updates parts it moves each one to the end of
# ``parts`` in turn, a rotation that ends where it began when nothing changed.
_PENDING = "slapkit_pending_buildout_values"


def _pending(buildout: Any) -> dict[str, dict[str, str]]:
    pending: dict[str, dict[str, str]] | None = getattr(buildout, _PENDING, None)
    if pending is None:
        pending = {}
        setattr(buildout, _PENDING, pending)
    return pending


def _signature(path: str) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def _encoding() -> str:
    # zc.buildout opens the file with the locale's encoding.
    return locale.getpreferredencoding(False)


def _options_dict(options: Any) -> dict[str, str]:
    if options is None:
        return {}
    return dict(options.copy()) if hasattr(options, "copy") else dict(options)


def _remember_read(path: str, buildout_options: Any) -> None:
    if not path:
        return
    try:
        with open(path, encoding=_encoding()) as stream:
            text = stream.read()
    except OSError:
        _records.pop(path, None)
        return
    _records[path] = _Record(text, _options_dict(buildout_options), _signature(path))


def _current(path: str) -> _Record | None:
    """The record of ``path`` if it still describes the file on disk."""
    record = _records.get(path)
    if record is not None and record.signature == _signature(path):
        return record
    return None


def _write(path: str, text: str, buildout_values: dict[str, str]) -> None:
    if path not in _cleaned:
        # What a run killed while writing it left behind.
        for stale in remove_stale_temporaries(path):
            logging.getLogger("slapkit").info("removed stale temporary %s", stale)
        _cleaned.add(path)
    write_if_changed(path, text.encode(_encoding()))
    _records[path] = _Record(text, buildout_values, _signature(path))


def _save_installed_options(self: Any, installed_options: Any) -> None:
    """The whole record, as zc.buildout writes it; only when it changed."""
    path = self["buildout"]["installed"]
    if not path:
        return
    texts = _section_texts.setdefault(path, {})
    text = _section_text(texts, "buildout", installed_options["buildout"]) + "".join(
        "\n" + _section_text(texts, part, installed_options[part])
        for part in installed_options["buildout"]["parts"].split()
    )
    _pending(self).pop(path, None)  # this record says the parts in their order now
    record = _current(path)
    buildout_values = _options_dict(installed_options["buildout"])
    if record is not None and record.text == text:
        record.buildout = buildout_values
        return
    _write(path, text, buildout_values)


# Per record, per section: (the options object, a snapshot of what it held,
# the text zc.buildout's _save_options made of it).
_section_texts: dict[str, dict[str, tuple[Any, Any, str]]] = {}


def _snapshot(options: Any) -> Any:
    """What ``options`` holds, cheap to compare, when it alone decides the
    section's text; None when it does not (a value still to substitute)."""
    if type(options) is dict:
        return dict(options)
    raw, data = getattr(options, "_raw", None), getattr(options, "_data", None)
    if type(raw) is not dict or type(data) is not dict:
        return None
    if any("${" in value for value in raw.values()):
        return None
    return dict(raw), dict(data)


def _section_text(texts: dict[str, tuple[Any, Any, str]], name: str, options: Any) -> str:
    snapshot = _snapshot(options)
    kept = texts.get(name)
    if snapshot is not None and kept is not None and kept[0] is options and kept[1] == snapshot:
        return kept[2]
    # Imported here, on a miss only: a first run of N parts comes here N*N times.
    import zc.buildout.buildout

    stream = io.StringIO()
    zc.buildout.buildout._save_options(name, options, stream)
    text = stream.getvalue()
    if snapshot is not None:
        texts[name] = (options, snapshot, text)
    return text


# Recipe requirement -> its signature; (requirement, group, entry) -> what it loads.
_signatures: dict[str, str] = {}
_loaded: dict[tuple[str, str, str], Any] = {}


def _compute_part_signatures(self: Any, parts: Any) -> None:
    """zc.buildout's, with each recipe's requirements resolved once."""
    import zc.buildout.buildout

    module: Any = zc.buildout.buildout
    with dir_hash_store.signing(dir_hash_store.of(self)):
        _sign_parts(self, module, parts)


def _sign_parts(self: Any, module: Any, parts: Any) -> None:
    for part in parts:
        options = self.get(part)
        if options is None:
            options = self[part] = {}
        recipe, _entry = module._recipe(options)
        signature = _signatures.get(recipe)
        if signature is None:
            requirement = module.pkg_resources.Requirement.parse(recipe)
            dists = module.pkg_resources.working_set.resolve([requirement])
            signature = _signatures[recipe] = " ".join(module._dists_sig(dists))
        options["__buildout_signature__"] = signature


def _loading_once(install_and_load: Any) -> Any:
    """zc.buildout's recipe loader, each (requirement, group, entry) loaded once."""

    def load_once(spec: str, group: str, entry: str, buildout: Any) -> Any:
        if not loaded_by(buildout):
            return install_and_load(spec, group, entry, buildout)
        key = (spec, group, entry)
        found = _loaded.get(key)
        if found is None:
            found = _loaded[key] = install_and_load(spec, group, entry, buildout)
        return found

    load_once.__wrapped__ = install_and_load  # type: ignore[attr-defined]
    return load_once


def _update_installed(self: Any, **buildout_options: str) -> None:
    """zc.buildout appends a ``[buildout]`` section with these values; here
    nothing is written when the file already says them."""
    path = self["buildout"]["installed"]
    record = _current(path)
    if record is None:
        _remember_read(path, _read_buildout_section(path))
        record = _current(path)
    if record is not None:
        wanted = {**_pending(self).pop(path, record.buildout), **buildout_options}
        changed = {option for option in wanted if wanted[option] != record.buildout.get(option)}
        if not changed:
            return
        if changed == {"parts"} and _same_parts(wanted["parts"], record):
            _pending(self)[path] = wanted  # the same parts in another order: at the end
            return
        buildout_options = {option: wanted[option] for option in sorted(changed)}
    _append(path, record, buildout_options)


def _same_parts(parts: str, record: _Record) -> bool:
    """Whether ``parts`` names the parts the record names, in any order."""
    recorded = record.buildout.get("parts", "")
    if record.parts_key != recorded:
        record.parts_key, record.parts_set = recorded, frozenset(recorded.split())
        record.same_parts = recorded
    # zc.buildout moves the part it updated to the end: if ``parts`` is the
    # last list found the same with its last name moved there, it is the
    # same too (string operations instead of a split per part: a 3000-part
    # rerun calls this 3000 times).
    last, name = record.same_parts, parts.rpartition(" ")[2]
    if last is not None and name:
        padded = f" {last} "
        at = padded.find(f" {name} ")
        if at >= 0:
            rest = (padded[:at] + padded[at + len(name) + 1 :]).strip()
            if (f"{rest} {name}" if rest else name) == parts:
                record.same_parts = parts
                return True
    names = parts.split()
    if len(names) == len(record.parts_set) and record.parts_set.issuperset(names):
        record.same_parts = parts
        return True
    return False


def _append(path: str, record: _Record | None, buildout_options: dict[str, str]) -> None:
    import zc.buildout.buildout

    stream = io.StringIO()
    stream.write("\n[buildout]\n")
    for option, value in buildout_options.items():
        zc.buildout.buildout._save_option(option, value, stream)
    text = (record.text if record is not None else "") + stream.getvalue()
    values = {**(record.buildout if record is not None else {}), **buildout_options}
    _write(path, text, values)


def _flush(buildout: Any, path: str) -> None:
    """At the end of a run: the order of ``parts`` it ended with, if new."""
    wanted = _pending(buildout).pop(path, None)
    record = _current(path) if path else None
    if wanted is None or record is None:
        return
    changed = {
        option: value for option, value in wanted.items() if record.buildout.get(option) != value
    }
    if changed:
        _append(path, record, changed)


def _read_buildout_section(path: str) -> dict[str, str] | None:
    """The ``[buildout]`` section of ``path`` as zc.buildout reads it (later
    sections of the same name win)."""
    import zc.buildout.buildout
    import zc.buildout.configparser

    try:
        with open(path, encoding=_encoding()) as stream:
            sections = zc.buildout.configparser.parse(stream, path)
    except (OSError, zc.buildout.configparser.Error):
        return None
    values = dict(sections.get("buildout", {}))
    for option, value in values.items():
        if "%(" in value:
            for marker, text in zc.buildout.buildout._spacey_defaults:
                value = value.replace(marker, text)
            values[option] = value
    return values
