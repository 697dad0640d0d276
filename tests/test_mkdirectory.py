import json
import stat

import pytest

from buildout_harness import snapshot

PROFILE = """
[buildout]
parts = directory

[directory]
recipe = slapkit:mkdirectory
{options}
"""


def profile(options: str) -> str:
    return PROFILE.format(options=options)


def mode_of(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_creates_directories_with_parents_and_default_mode(buildout):
    etc = buildout.path("srv", "deep", "etc")
    result = buildout.run(profile(f"etc = {etc}\nlog = {buildout.path('var', 'log')}"))
    result.check()
    assert etc.is_dir() and buildout.path("var", "log").is_dir()
    # 0777 less slapgrid's umask 027, as slapos.cookbook.
    assert mode_of(etc) == 0o750
    assert mode_of(buildout.path("srv")) == 0o750
    assert f"created directory {etc}" in result.output


def test_mode_is_applied_exactly_to_created_directories_and_parents(buildout):
    data = buildout.path("a", "b", "data")
    buildout.run(profile(f"mode = 0700\ndata = {data}")).check()
    assert mode_of(data) == 0o700
    assert mode_of(buildout.path("a")) == 0o700
    buildout.run(profile(f"mode = 775\nshared = {buildout.path('shared')}")).check()
    # exactly 0775 although the umask is 027
    assert mode_of(buildout.path("shared")) == 0o775


def test_existing_directory_keeps_its_content_and_mode(buildout):
    data = buildout.path("srv", "data")
    data.mkdir(parents=True)
    data.chmod(0o711)
    (data / "database").write_text("precious")
    result = buildout.run(profile(f"mode = 0700\ndata = {data}")).check()
    assert (data / "database").read_text() == "precious"
    assert mode_of(data) == 0o711
    assert "created" not in result.output


def test_empty_value_is_skipped(buildout):
    result = buildout.run(profile(f"optional =\netc = {buildout.path('etc')}")).check()
    assert buildout.path("etc").is_dir()
    assert result.output.count("created directory") == 1


def test_second_run_writes_nothing_and_reinstalls_nothing(buildout):
    text = profile(f"etc = {buildout.path('etc', 'service')}\nvar = {buildout.path('var')}")
    first = buildout.run(text).check()
    assert "Installing directory." in first.output
    before = snapshot(buildout.directory)
    second = buildout.run().check()
    assert snapshot(buildout.directory) == before
    assert "Installing" not in second.output and "Uninstalling" not in second.output
    assert "created" not in second.output


def test_directory_removed_by_hand_is_created_again(buildout):
    text = profile(f"etc = {buildout.path('etc')}")
    buildout.run(text).check()
    buildout.path("etc").rmdir()
    result = buildout.run().check()
    assert buildout.path("etc").is_dir()
    assert f"created directory {buildout.path('etc')}" in result.output


def test_file_in_the_way_is_a_clear_error_and_nothing_is_created(buildout):
    buildout.path("etc").write_text("not a directory")
    var = buildout.path("var")
    result = buildout.run(profile(f"var = {var}\netc = {buildout.path('etc')}"))
    assert result.returncode != 0
    assert (
        f"Error: [directory] etc: '{buildout.path('etc')}' exists and is not a directory"
        in result.output
    )
    assert "Traceback" not in result.output
    assert not var.exists()
    assert buildout.path("etc").read_text() == "not a directory"


def test_bad_mode_is_a_clear_error(buildout):
    result = buildout.run(profile(f"mode = 0x9\netc = {buildout.path('etc')}"))
    assert result.returncode != 0
    assert "Error: [directory] mode: '0x9' is not an octal file mode" in result.output
    assert not buildout.path("etc").exists()


def test_uninstall_keeps_the_directories(buildout):
    data = buildout.path("srv", "data")
    buildout.run(profile(f"data = {data}")).check()
    (data / "file").write_text("kept")
    result = buildout.run("[buildout]\nparts =\n").check()
    assert "Uninstalling directory." in result.output
    assert (data / "file").read_text() == "kept"


def test_option_change_keeps_existing_directories(buildout):
    data = buildout.path("data")
    buildout.run(profile(f"data = {data}")).check()
    (data / "file").write_text("kept")
    buildout.run(profile(f"data = {data}\nlog = {buildout.path('log')}")).check()
    assert (data / "file").read_text() == "kept"
    assert buildout.path("log").is_dir()


@pytest.mark.parametrize("mode", ["2750", "1777", "0o3770", "7777"])
def test_setgid_setuid_and_sticky_modes_are_applied(buildout, mode):
    shared = buildout.path("a", "shared")
    buildout.run(profile(f"mode = {mode}\nshared = {shared}")).check()
    expected = int(mode.removeprefix("0o"), 8)
    assert mode_of(shared) == expected
    assert mode_of(buildout.path("a")) == expected


@pytest.mark.parametrize("mode", ["10000", "0o17777", "-1"])
def test_a_mode_past_0o7777_is_refused_naming_part_and_option(buildout, mode):
    result = buildout.run(profile(f"mode = {mode}\nshared = {buildout.path('shared')}"))
    assert result.returncode == 1
    assert f"Error: [directory] mode: '{mode}' is not an octal file mode" in result.output
    assert "Traceback" not in result.output
    assert not buildout.path("shared").exists()


def test_a_relative_value_is_an_error_naming_the_option_and_the_near_miss(buildout):
    """``mdoe = 0700`` (a misspelled ``mode``) made a directory ``0700``."""
    text = (
        "[buildout]\nparts = d\n[d]\nrecipe = slapkit:mkdirectory\n"
        f"etc = {buildout.path('etc')}\nmdoe = 0700\n"
    )
    result = buildout.run(text)
    assert not result.ok and "Traceback" not in result.output
    assert (
        "Error: [d] mdoe: '0700' is not an absolute path (every option but mode names a "
        "directory); did you mean 'mode'?" in result.output
    )
    assert not buildout.path("0700").exists() and not buildout.path("etc").exists()
    result = buildout.run(text.replace("mdoe = 0700", "logs = var/log"))
    assert "Error: [d] logs: 'var/log' is not an absolute path" in result.output
    assert "did you mean" not in result.output
    assert not buildout.path("var").exists()


def planted(buildout, tmp_path, where: str):
    """A link at ``where`` in the partition to a directory outside it."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "service").mkdir()
    link = buildout.path(*where.split("/"))
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside)
    return link, outside


@pytest.mark.parametrize("where", ["etc", "etc/service"])
def test_a_planted_link_on_the_way_is_refused_and_nothing_is_made_through_it(
    buildout, tmp_path, where
):
    link, outside = planted(buildout, tmp_path, where)
    service = buildout.path("etc", "service")
    log = buildout.path("var", "log")
    result = buildout.run(profile(f"log = {log}\nservice = {service}\nrun = {service}/run"))
    assert not result.ok
    assert "directory" in result.output and "run" in result.output
    assert f"{str(link)!r} is a symbolic link (to {str(outside)!r})" in result.output
    assert "remove it, or make it with slapkit:symbolic.link" in result.output
    assert sorted(p.name for p in outside.rglob("*")) == ["service"]
    assert not log.exists()  # nothing created before the refusal either
    assert link.is_symlink()


def test_a_link_this_buildout_makes_is_used(buildout, tmp_path):
    disk = tmp_path / "big-disk" / "backup"
    disk.mkdir(parents=True)
    backup = buildout.path("srv", "backup")
    result = buildout.run(
        "[buildout]\nparts = directory link data\n"
        f"[directory]\nrecipe = slapkit:mkdirectory\nsrv = {buildout.path('srv')}\n"
        "[link]\nrecipe = slapkit:symbolic.link\n"
        "target-directory = ${directory:srv}\n"
        f"link-binary = {disk}\n"
        f"[data]\nrecipe = slapkit:mkdirectory\nnightly = {backup}/nightly\n"
    )
    result.check()
    assert (disk / "nightly").is_dir()


def test_a_partition_reached_through_a_link_is_the_operators_choice(buildout, tmp_path):
    # Links above the buildout directory, or in the buildout directory's own
    # path, are not planted files.
    data = buildout.path("srv", "data")
    alias = tmp_path / "alias"
    alias.symlink_to(buildout.path())
    via_alias = alias / "srv" / "data"
    buildout.run(profile(f"data = {via_alias}")).check()
    assert data.is_dir()


def test_a_file_in_place_of_a_parent_is_a_clear_error_naming_it(buildout):
    buildout.path("etc").write_text("not a directory")
    service = buildout.path("etc", "service", "run")
    result = buildout.run(profile(f"service = {service}"))
    assert not result.ok
    assert (
        f"Error: [directory] service: cannot create '{service}': "
        f"'{buildout.path('etc')}' is not a directory" in result.output
    )
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "value", ["../../escaped", "a/../../escaped", "..", "x\\..\\y/..", "../../escaped ", " .. /x"]
)
def test_a_parameter_climbing_out_with_dot_dot_is_refused(buildout, tmp_path, value):
    parameters = tmp_path / "parameters.json"
    parameters.write_text(json.dumps({"sub": value}))
    result = buildout.run(
        "[buildout]\nparts = directory\n"
        f"[slap-parameter]\nrecipe = slapkit:parameters\nparameters-file = {parameters}\n"
        "sub = default\n"
        "[directory]\nrecipe = slapkit:mkdirectory\n"
        "data = ${buildout:directory}/srv/${slap-parameter:sub}\n"
    )
    assert not result.ok
    assert "[directory] data:" in result.output
    assert "that climbs out of the directory the profile names" in result.output
    assert not (tmp_path / "escaped").exists()
    assert not buildout.path("srv").exists()


def test_a_parameter_naming_a_subdirectory_is_taken(buildout, tmp_path):
    parameters = tmp_path / "parameters.json"
    parameters.write_text(json.dumps({"sub": "a/b..c"}))
    buildout.run(
        "[buildout]\nparts = directory\n"
        f"[slap-parameter]\nrecipe = slapkit:parameters\nparameters-file = {parameters}\n"
        "sub = default\n"
        "[directory]\nrecipe = slapkit:mkdirectory\n"
        "data = ${buildout:directory}/srv/${slap-parameter:sub}\n"
    ).check()
    assert buildout.path("srv", "a", "b..c").is_dir()
