"""The zc.buildout extension ``[buildout] extensions = slapkit``: buildout's
own .installed.cfg written only when it changed (the crash test is in
test_reliability)."""

import json
import os

from buildout_harness import BuildoutDir, keep_json, read_kept_json
from test_switch_softwaretype import root

PROFILE = """
[buildout]
parts = directory config
{extensions}

[directory]
recipe = slapkit:mkdirectory
etc = ${{buildout:directory}}/etc

[config]
recipe = slapkit:jinja2
output = ${{directory:etc}}/config
inline = value={value}
"""


def stamp(path):
    info = os.stat(path)
    return info.st_ino, info.st_mtime_ns


def test_an_unchanged_rerun_writes_installed_cfg_zero_times(buildout):
    installed = buildout.path(".installed.cfg")
    # Without the extension zc.buildout rewrites it on every run.
    buildout.run(PROFILE.format(extensions="", value=1)).check()
    before = stamp(installed)
    buildout.run().check()
    assert stamp(installed) != before
    # With it, it is left alone when nothing changed...
    buildout.run(PROFILE.format(extensions="extensions = slapkit", value=1)).check()
    before = stamp(installed)
    for _ in range(2):
        assert "Installing" not in buildout.run().check().output
        assert stamp(installed) == before
    # ...and rewritten when something did, in zc.buildout's own format.
    buildout.run(PROFILE.format(extensions="extensions = slapkit", value=2)).check()
    assert stamp(installed) != before
    written = installed.read_bytes()
    installed.unlink()
    buildout.run(PROFILE.format(extensions="", value=2)).check()  # zc.buildout's own
    assert installed.read_bytes() == written


def effective_parts(path):
    import zc.buildout.configparser

    with open(path) as stream:
        return zc.buildout.configparser.parse(stream, str(path))["buildout"]["parts"]


def test_the_order_of_parts_is_recorded_as_zc_buildout_records_it(buildout, tmp_path):
    plain = BuildoutDir(tmp_path / "plain")
    plain.directory.mkdir()
    for value, order in ((1, "directory config"), (2, "config directory"), (2, "config directory")):
        for where, extensions in ((buildout, "extensions = slapkit"), (plain, "")):
            text = PROFILE.format(extensions=extensions, value=value)
            where.run(text.replace("parts = directory config", f"parts = {order}")).check()
        assert effective_parts(buildout.path(".installed.cfg")) == effective_parts(
            plain.path(".installed.cfg")
        )
    # Parts that do not depend on each other, swapped: nothing changes but
    # the order they are recorded in.
    sections = "".join(
        f"[{name}]\nrecipe = slapkit:mkdirectory\npath = ${{buildout:directory}}/{name}\n"
        for name in ("a", "b")
    )
    for order in ("a b", "b a"):
        for where, extensions in ((buildout, "extensions = slapkit"), (plain, "")):
            where.run(f"[buildout]\nparts = {order}\n{extensions}\n{sections}").check()
        assert effective_parts(buildout.path(".installed.cfg")) == effective_parts(
            plain.path(".installed.cfg")
        )
    assert effective_parts(plain.path(".installed.cfg")) == "b a"


def test_a_sub_buildout_record_is_left_alone_too(buildout):
    text = root(buildout).replace("[buildout]\n", "[buildout]\nextensions = slapkit\n", 1)
    buildout.run(text).check()
    records = [buildout.path(".installed.cfg"), buildout.path(".installed-switch-softwaretype.cfg")]
    before = [stamp(path) for path in records]
    buildout.run().check()
    assert [stamp(path) for path in records] == before


def recorded(where):
    """.installed.cfg as zc.buildout reads it: section -> options, the
    buildout's directory written <dir>."""
    import zc.buildout.configparser

    path = where.path(".installed.cfg")
    with open(path) as stream:
        sections = zc.buildout.configparser.parse(stream, str(path))
    return {
        name: {key: value.replace(str(where.directory), "<dir>") for key, value in options.items()}
        for name, options in sections.items()
    }


def test_records_say_what_zc_buildout_records_through_changes_and_failures(buildout, tmp_path):
    """The extension keeps each section's text while its options stay the same:
    after installs, updates, an escaped ``$${…}``, multi-line values and a
    failing part, the record reads as zc.buildout's own."""
    plain = BuildoutDir(tmp_path / "plain")
    plain.directory.mkdir()

    def profile(value, broken=False):
        config = "".join(
            f"[config-{i}]\nrecipe = slapkit:jinja2\noutput = ${{directory:etc}}/c{i}\n"
            f"inline =\n  first {value} $${{not:substituted}}\n  second {i}\n"
            for i in range(4)
        )
        failing = "[late]\nrecipe = slapkit:jinja2\noutput = ${directory:etc}/late\n"
        failing += "template = /nonexistent\n" if broken else "inline = fine\n"
        parts = " ".join(["directory"] + [f"config-{i}" for i in range(4)] + ["late"])
        directory = "[directory]\nrecipe = slapkit:mkdirectory\netc = ${buildout:directory}/etc\n"
        return f"[buildout]\nparts = {parts}\nEXTENSIONS\n{directory}{config}{failing}"

    for value, broken in ((1, False), (2, False), (3, True), (3, False), (3, False)):
        text = profile(value, broken)
        results = [
            where.run(text.replace("EXTENSIONS", extensions))
            for where, extensions in ((buildout, "extensions = slapkit"), (plain, ""))
        ]
        assert [result.ok for result in results] == [not broken] * 2
        assert recorded(buildout) == recorded(plain)


def test_a_recipes_directory_digest_is_kept_and_follows_its_files(tmp_path, monkeypatch):
    """zc.buildout's digest of a develop recipe's directory, kept between runs
    by fingerprint: the same value as zc.buildout's, recomputed when any file
    changes (here: same size, same mtime, other content)."""
    import zc.buildout.buildout

    from slapkit import dir_hash_store

    recipe = tmp_path / "recipe"
    (recipe / "pkg").mkdir(parents=True)
    (recipe / "pkg" / "code.py").write_text("one = 1\n")
    (recipe / "pkg" / "skipped.pyc").write_bytes(b"not read")
    partition = tmp_path / "partition"
    partition.mkdir()
    monkeypatch.setattr(zc.buildout.buildout, "_dir_hashes", {})

    def zc_buildout_digest():
        zc.buildout.buildout._dir_hashes.clear()
        return zc.buildout.buildout._dir_hash(str(recipe))

    def kept_digest():
        zc.buildout.buildout._dir_hashes.clear()  # a new run
        run = dir_hash_store.DirHashRun(str(partition))
        with dir_hash_store.signing(run):
            digest = dir_hash_store.keeping(zc.buildout.buildout._dir_hash)(str(recipe))
        run.flush()
        return digest

    assert kept_digest() == zc_buildout_digest()
    store = partition / ".slapkit" / "dir-hashes.json"
    assert os.stat(store).st_mode & 0o777 == 0o600
    # The next run takes the kept digest (tampered with here to show it).
    data = read_kept_json(store)
    data[str(recipe)][1] = "kept"
    keep_json(store, data)
    assert kept_digest() == "kept"
    # Edited by anyone else: not used.
    store.write_text(json.dumps(data))
    assert kept_digest() == zc_buildout_digest()
    keep_json(store, data)
    assert kept_digest() == "kept"
    # A file rewritten with the same size and mtime: its ctime moved.
    code = recipe / "pkg" / "code.py"
    stamp = os.stat(code)
    code.write_text("two = 2\n")
    os.utime(code, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert kept_digest() == zc_buildout_digest() != "kept"
    # A new file too.
    (recipe / "pkg" / "new.py").write_text("")
    assert kept_digest() == zc_buildout_digest()
    # A corrupt store is not used.
    store.write_text("[")
    assert kept_digest() == zc_buildout_digest()


def test_a_failing_run_keeps_no_digest(buildout):
    # Fails when installing (the parts are signed by then): once's directory is missing.
    failing = "[buildout]\nparts = late\nextensions = slapkit\n[late]\nrecipe = slapkit:jinja2\n"
    failing += "output = ${buildout:directory}/late\ninline = fine\n"
    failing += "once = ${buildout:directory}/missing/done\n"
    result = buildout.run(failing)
    assert not result.ok and "[late] once:" in result.output
    assert not buildout.path(".slapkit", "dir-hashes.json").exists()
    buildout.run(failing.replace("/missing/done", "/done")).check()
    assert buildout.path(".slapkit", "dir-hashes.json").exists()


def test_a_sub_buildout_never_keeps_its_main_runs_digests_before_the_main_run_ends_well(buildout):
    late = (
        "\n[late]\nrecipe = slapkit:jinja2\noutput = ${buildout:directory}/late\ninline = fine\n"
        "once = ${buildout:directory}/missing/done\n"
    )
    text = root(buildout, after="late", more=late).replace(
        "[buildout]\n", "[buildout]\nextensions = slapkit\n", 1
    )
    result = buildout.run(text)
    assert not result.ok and "[late] once:" in result.output
    assert buildout.path(".installed-switch-softwaretype.cfg").exists()  # the sub-buildout ran
    assert not buildout.path(".slapkit", "dir-hashes.json").exists()
    buildout.run(text.replace("/missing/done", "/done")).check()
    assert buildout.path(".slapkit", "dir-hashes.json").exists()


def test_a_buildout_without_the_extension_is_zc_buildouts_own_in_the_same_process(buildout):
    """The extension patches zc.buildout's class for the process: a buildout
    that did not load it (a baseline beside slapkit's, forked from this test
    process) records as upstream does, rewriting .installed.cfg each run."""
    from slapkit import extension

    extension.load(None)  # the class patched in this process, as a run with it leaves it
    text = "[buildout]\nparts = d\n[d]\nrecipe = slapkit:mkdirectory\nx = ${buildout:directory}/x\n"
    buildout.run(text).check()
    before = stamp(buildout.path(".installed.cfg"))
    buildout.run().check()
    assert stamp(buildout.path(".installed.cfg")) != before  # upstream writes it again
    buildout.run(text.replace("[buildout]\n", "[buildout]\nextensions = slapkit\n")).check()
    before = stamp(buildout.path(".installed.cfg"))
    buildout.run().check()
    assert stamp(buildout.path(".installed.cfg")) == before
