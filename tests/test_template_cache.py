"""Compiled templates kept between runs in .slapkit/jinja2 (Jinja2's own
bytecode cache), through real buildout in new processes."""

import os
import stat

import jinja2

PROFILE = """
[buildout]
parts = config

[config]
recipe = slapkit:jinja2
output = ${buildout:directory}/config
inline = hello {{ 1 + 1 }}
"""

NAME = "<inline template of [config]>"


def entries(buildout):
    directory = buildout.path(".slapkit", "jinja2")
    return sorted(directory.iterdir()) if directory.is_dir() else []


def test_entries_are_kept_private_and_used_by_the_next_run(buildout):
    buildout.run(PROFILE).check()
    assert buildout.path("config").read_text() == "hello 2"
    (entry,) = entries(buildout)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(buildout.path(".slapkit", "jinja2").stat().st_mode) == 0o700
    # The next run takes the code from the cache: an entry holding other
    # code for this very source (same key, same checksum) is what renders.
    cache = jinja2.FileSystemBytecodeCache(str(entry.parent))
    env = jinja2.Environment()
    bucket = cache.get_bucket(env, NAME + "|", NAME, "hello {{ 1 + 1 }}")
    bucket.code = env.compile("from the cache", filename=NAME)
    cache.set_bucket(bucket)
    buildout.path("config").unlink()
    buildout.run(subprocess=True).check()
    assert buildout.path("config").read_text() == "from the cache"


def test_a_corrupt_entry_is_compiled_anew(buildout):
    buildout.run(PROFILE).check()
    (entry,) = entries(buildout)
    for garbage in (b"", b"j2\x00garbage", entry.read_bytes()[:40] + b"\x80\x04garbage"):
        entry.write_bytes(garbage)
        buildout.path("config").unlink()
        buildout.run(subprocess=True).check()
        assert buildout.path("config").read_text() == "hello 2"
    assert entries(buildout) == [entry]  # rewritten, nothing left beside it


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
