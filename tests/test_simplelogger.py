"""slapkit:simplelogger through real buildout, beside the cookbook's."""

import re
import subprocess

import pytest

from buildout_harness import BuildoutDir, snapshot
from test_error_paths import error_in


def profile(recipe: str) -> str:
    return (
        "[buildout]\nparts = logger\n"
        f"[logger]\nrecipe = {recipe}\nwrapper = ${{buildout:directory}}/bin/log-it\n"
        "log = ${buildout:directory}/it's.log\n"
    )


def feed(buildout, text: str) -> str:
    subprocess.run(
        [str(buildout.path("bin", "log-it"))], input=text, text=True, check=True, timeout=30
    )
    return buildout.path("it's.log").read_text()


STAMP = r"\d{4}-\d\d-\d\d\.\d\d:\d\d\.\d+:"


def test_lines_are_appended_stamped_as_the_cookbooks_are(buildout, tmp_path):
    buildout.path("bin").mkdir(exist_ok=True)
    buildout.run(profile("slapkit:simplelogger")).check()
    feed(buildout, "first\nsecond\n")
    log = feed(buildout, "third\n")
    assert re.fullmatch(
        rf"{STAMP} first\n{STAMP} second\n{STAMP} -{{24}}\n{STAMP} third\n{STAMP} -{{24}}\n", log
    ), log
    before = snapshot(buildout.directory)
    buildout.run().check()
    assert snapshot(buildout.directory) == before

    pytest.importorskip("slapos.recipe.simplelogger")
    theirs = BuildoutDir(tmp_path / "cookbook")
    theirs.directory.mkdir()
    theirs.path("bin").mkdir()
    theirs.run(profile("slapos.cookbook:simplelogger")).check()
    feed(theirs, "first\nsecond\n")
    stamped = re.compile(STAMP)
    assert stamped.sub("T", feed(theirs, "third\n")) == stamped.sub("T", log)


def test_removing_the_part_removes_the_script_and_keeps_the_log(buildout):
    buildout.path("bin").mkdir(exist_ok=True)
    buildout.run(profile("slapkit:simplelogger")).check()
    feed(buildout, "kept\n")
    buildout.run("[buildout]\nparts =\n").check()
    assert not buildout.path("bin", "log-it").exists()
    assert "kept" in buildout.path("it's.log").read_text()


def test_a_log_path_with_a_control_character_is_refused(buildout):
    result = buildout.run(
        "[buildout]\nparts = l\n[v]\nx = a\n[l]\nrecipe = slapkit:simplelogger\n"
        "wrapper = ${buildout:directory}/w\nlog = ${buildout:directory}/a\x1bb\n"
    )
    error_in(result, "[l] log: ")
    assert not buildout.path("w").exists()


def test_a_directory_planted_where_the_script_was_is_left_and_is_no_error(buildout):
    buildout.path("bin").mkdir(exist_ok=True)
    buildout.run(profile("slapkit:simplelogger")).check()
    buildout.path("bin", "log-it").unlink()
    buildout.path("bin", "log-it").mkdir()
    buildout.run("[buildout]\nparts =\n").check()
    assert buildout.path("bin", "log-it").is_dir()
