"""slapkit:symbolic.link's removal, through real buildout: a link the part
made is removed as a link, and nothing outside the partition changes."""

import os
import stat


def profile(buildout, targets, part="links"):
    lines = "\n  ".join(str(t) for t in targets)
    return (
        f"[buildout]\nparts = {part}\n[{part}]\nrecipe = slapkit:symbolic.link\n"
        f"target-directory = {buildout.path('bin')}\nlink-binary =\n  {lines}\n"
    )


def test_a_link_to_a_directory_is_removed_as_a_link_and_its_target_untouched(buildout, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.chmod(outside, 0o755)
    (outside / "data").write_text("kept")
    os.chmod(outside / "data", 0o644)
    buildout.path("bin").mkdir()
    buildout.run(profile(buildout, [outside])).check()
    assert os.readlink(buildout.path("bin", "outside")) == str(outside)
    # The part goes away, then comes back with other options: each time the
    # link goes, the directory it pointed to stays as it was.
    for text in ("[buildout]\nparts =\n", profile(buildout, [outside, "/bin/sh"])):
        buildout.run(text).check()
        assert stat.S_IMODE(outside.stat().st_mode) == 0o755
        assert stat.S_IMODE((outside / "data").stat().st_mode) == 0o644
        assert (outside / "data").read_text() == "kept"
    assert os.readlink(buildout.path("bin", "outside")) == str(outside)
    result = buildout.run("[buildout]\nparts =\n").check()
    assert not os.path.lexists(buildout.path("bin", "outside"))
    assert f"removed {buildout.path('bin', 'outside')}" in result.output
    assert stat.S_IMODE(outside.stat().st_mode) == 0o755
    assert ".installed.cfg" not in os.listdir(outside)


def test_what_replaced_a_link_is_not_removed(buildout, tmp_path):
    buildout.path("bin").mkdir()
    buildout.run(profile(buildout, ["/bin/sh"])).check()
    # Someone replaced the link by a file, or by a link elsewhere.
    for replacement in ("file", "link"):
        link = buildout.path("bin", "sh")
        if os.path.lexists(link):
            os.unlink(link)
        if replacement == "file":
            link.write_text("mine")
        else:
            os.symlink("/elsewhere", link)
        buildout.run("[buildout]\nparts =\n").check()
        assert os.path.lexists(link), replacement
        os.unlink(link)
        buildout.run(profile(buildout, ["/bin/sh"])).check()


def test_a_link_another_part_now_makes_stays(buildout):
    buildout.path("bin").mkdir()
    buildout.run(profile(buildout, ["/bin/sh"], part="old")).check()
    buildout.run(profile(buildout, ["/bin/sh"], part="new")).check()
    assert os.readlink(buildout.path("bin", "sh")) == "/bin/sh"


def test_one_path_twice_is_one_link_two_paths_of_one_name_an_error(buildout):
    buildout.path("bin").mkdir()
    buildout.run(profile(buildout, ["/bin/sh", "/bin/sh"])).check()
    assert os.readlink(buildout.path("bin", "sh")) == "/bin/sh"
    result = buildout.run(profile(buildout, ["/bin/sh", "/usr/bin/sh"]))
    assert not result.ok
    assert "[links] link-binary: '/bin/sh' and '/usr/bin/sh' would have one link name" in (
        result.output
    )
    assert os.readlink(buildout.path("bin", "sh")) == "/bin/sh"
