"""Compiled templates kept between runs in .slapkit/jinja2, through real
buildout in new processes. An entry is code: it is used only when slapkit
provably wrote it for this partition, and nothing found there is ever
unpickled or unmarshalled otherwise."""

import marshal
import os
import pickle
import stat

import jinja2

from slapkit.core import partition_state
from slapkit.core.template_cache import _entry_name

PROFILE = """
[buildout]
parts = config

[config]
recipe = slapkit:jinja2
output = ${buildout:directory}/config
inline = hello {{ 1 + 1 }}
"""

NAME = "<inline template of [config]>"
SOURCE = "hello {{ 1 + 1 }}"


def entries(buildout):
    directory = buildout.path(".slapkit", "jinja2")
    return sorted(directory.iterdir()) if directory.is_dir() else []


def code_of(text):
    return jinja2.Environment().compile(text, filename=NAME)


class RunsCode:
    """What a planted pickle would run: touch a file."""

    def __init__(self, witness):
        self.witness = witness

    def __reduce__(self):
        return (os.system, (f"touch {self.witness}",))


def test_entries_are_kept_private_and_used_by_the_next_run(buildout):
    buildout.run(PROFILE).check()
    assert buildout.path("config").read_text() == "hello 2"
    (entry,) = entries(buildout)
    assert entry.name == _entry_name(NAME + "|", NAME, SOURCE)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(buildout.path(".slapkit", "jinja2").stat().st_mode) == 0o700
    # The next run takes the code from the cache: an entry slapkit keeps
    # (authenticated with the partition's salt) holding other code for this
    # very source is what renders.
    directory = str(buildout.path())
    partition_state.keep(directory, str(entry), marshal.dumps(code_of("from the cache")))
    buildout.path("config").unlink()
    buildout.run(subprocess=True).check()
    assert buildout.path("config").read_text() == "from the cache"


def test_a_planted_or_edited_entry_is_never_run(buildout, tmp_path):
    buildout.run(PROFILE).check()
    (entry,) = entries(buildout)
    witness = tmp_path / "ran"
    kept = entry.read_bytes()
    tag, body = kept.split(b"\n", 1)
    planted = {
        # Jinja2's own cache format: a pickle first, which would run code.
        "jinja2's format": b"j2" + pickle.dumps(RunsCode(witness)) + marshal.dumps(code_of("x")),
        "a pickle": pickle.dumps(RunsCode(witness)),
        # slapkit's format, other code, the MAC left as it was.
        "other code": tag + b"\n" + marshal.dumps(code_of("planted")),
        # slapkit's format, a MAC made with another key.
        "another key": b"slapkit-kept-1 " + b"0" * 64 + b"\n" + marshal.dumps(code_of("planted")),
        "truncated": kept[:-3],
        "empty": b"",
    }
    for what, content in planted.items():
        entry.write_bytes(content)
        buildout.path("config").unlink()
        buildout.run(subprocess=True).check()
        assert buildout.path("config").read_text() == "hello 2", what
        assert not witness.exists(), what
        assert entry.read_bytes() == tag + b"\n" + body, what  # compiled anew, kept anew
    assert entries(buildout) == [entry]  # nothing left beside it


def test_an_entry_kept_in_another_partition_is_not_used_here(buildout, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / ".slapkit").mkdir(mode=0o700)
    buildout.run(PROFILE).check()
    (entry,) = entries(buildout)
    # Authentic for the other partition (its own salt), copied here.
    foreign = other / ".slapkit" / entry.name
    partition_state.keep(str(other), str(foreign), marshal.dumps(code_of("foreign")))
    entry.write_bytes(foreign.read_bytes())
    buildout.path("config").unlink()
    buildout.run(subprocess=True).check()
    assert buildout.path("config").read_text() == "hello 2"


def test_a_fifo_or_a_symlink_in_place_of_an_entry_is_not_opened(buildout, tmp_path):
    buildout.run(PROFILE).check()
    (entry,) = entries(buildout)
    secret = tmp_path / "secret"
    secret.write_bytes(entry.read_bytes())
    for make in (os.mkfifo, lambda path: os.symlink(secret, path)):
        entry.unlink()
        make(entry)
        buildout.path("config").unlink()
        buildout.run(subprocess=True).check()  # a FIFO opened would hang until the timeout
        assert buildout.path("config").read_text() == "hello 2"
        assert entry.is_file() and not entry.is_symlink()  # replaced by a kept entry
    assert secret.read_bytes() == entry.read_bytes()


def test_a_symlink_in_place_of_the_cache_is_never_used(buildout, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    buildout.path(".slapkit").mkdir(mode=0o700)
    os.symlink(elsewhere, buildout.path(".slapkit", "jinja2"))
    buildout.run(PROFILE).check()
    assert buildout.path("config").read_text() == "hello 2"
    assert list(elsewhere.iterdir()) == []


def test_a_run_that_fails_keeps_nothing(buildout):
    # Found by the fuzz: the entry was written when the part was read, so a
    # run stopped by a bad output path had changed the disk.
    result = buildout.run(
        PROFILE.replace("${buildout:directory}/config", "${buildout:directory}/no/config")
    )
    assert not result.ok and "cannot write" in result.output
    assert not buildout.path(".slapkit").exists()
