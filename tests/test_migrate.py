"""``slapkit migrate``: the one rule applied, every other byte kept, a report
with line numbers; and the cookbook options slapkit refuses rather than drop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_error_paths import error_in

SLAPKIT = str(Path(sys.executable).with_name("slapkit"))
# A Jinja2-templated profile in the style of SlapOS's instance-*.cfg.in:
# CRLF lines, comments, template lines, continuation lines, a computed
# recipe, a recipe slapkit does not cover and one it refuses an option of.
PROFILE = (
    "{% set part_list = [] -%}\r\n"
    "[buildout]\r\n"
    "parts = {{ part_list | join(' ') }}\r\n"
    "# recipe = slapos.cookbook:wrapper (a comment, kept)\r\n"
    "[directory]\r\n"
    "recipe  =  slapos.cookbook:mkdirectory\r\n"
    "etc = ${buildout:directory}/etc\r\n"
    "[service]\r\n"
    "recipe = slapos.cookbook:wrapper\r\n"
    "command-line =\r\n"
    "  {{ bin }} --recipe = slapos.cookbook:wrapper\r\n"
    "wrapper-path = ${directory:etc}/service\r\n"
    "sig-ign = SIGHUP\r\n"
    "{% if tls %}\r\n"
    "[config]\r\n"
    "recipe = slapos.recipe.template:jinja2\r\n"
    "{% else %}\r\n"
    "[config]\r\n"
    "recipe = slapos.recipe.template\r\n"
    "{% endif %}\r\n"
    "[request]\r\n"
    "recipe = slapos.cookbook:simplehttpserver\r\n"
    "[other]\r\n"
    "recipe = {{ recipe_name }}\r\n"
    "[command]\r\n"
    "recipe = plone.recipe.command\r\n"
)
MIGRATED = (
    PROFILE.replace("recipe  =  slapos.cookbook:mkdirectory", "recipe  =  slapkit:mkdirectory")
    .replace("recipe = slapos.cookbook:wrapper\r\ncommand", "recipe = slapkit:wrapper\r\ncommand")
    .replace("recipe = slapos.recipe.template:jinja2", "recipe = slapkit:jinja2")
    .replace("recipe = slapos.recipe.template\r\n", "recipe = slapkit:template\r\n")
)


def migrate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SLAPKIT, "migrate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_only_recipe_names_change_every_other_byte_is_kept(tmp_path):
    profile = tmp_path / "instance-x.cfg.in"
    profile.write_bytes(PROFILE.encode())
    profile.chmod(0o640)
    result = migrate(str(profile), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert profile.read_bytes() == MIGRATED.encode()
    assert oct(profile.stat().st_mode & 0o777) == oct(0o640)
    before = profile.stat()
    assert migrate(str(profile), cwd=tmp_path).returncode == 0
    after = profile.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_the_report_names_line_part_and_what_does_not_migrate(tmp_path):
    profile = tmp_path / "instance.cfg.in"
    profile.write_bytes(PROFILE.encode())
    result = migrate("--check", str(profile), cwd=tmp_path)
    assert result.returncode == 1
    assert profile.read_bytes() == PROFILE.encode()  # --check writes nothing
    lines = result.stdout.splitlines()
    assert lines[0] == f"{profile}: 4 of 7 recipe lines would migrate"
    assert lines[1:] == [
        f"  {profile}:9: [service] differs: the cookbook's wrapper always passes its own "
        'arguments on ("$@"), slapkit\'s does not: add parameters-extra = true to keep the '
        "cookbook's behaviour",
        f"  {profile}:22: [request] not covered: slapos.cookbook:simplehttpserver: slapkit "
        "has no slapkit:simplehttpserver yet, left as it is",
        f"  {profile}:24: [other] computed: recipe '{{{{ recipe_name }}}}' is computed; "
        "migrate it by hand",
        f"  {profile}:26: [command] not covered: plone.recipe.command: not a "
        "slapos.cookbook or slapos.recipe.template recipe, left as it is",
    ]


def test_check_fails_while_a_profile_would_change_and_passes_once_migrated(tmp_path):
    # As black --check: 1 while anything would change (even cleanly), 0 after.
    profile = tmp_path / "instance.cfg"
    text = "[d]\nrecipe = slapos.cookbook:mkdirectory\netc = etc\n"
    profile.write_text(text)
    result = migrate("--check", str(profile), cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        f"{profile}: 1 of 1 recipe lines would migrate, clean\n",
        "",
    )
    assert profile.read_text() == text
    result = migrate(str(profile), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (
        0,
        f"{profile}: 1 of 1 recipe lines migrated, clean\n",
    )
    result = migrate("--check", str(profile), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (
        0,
        f"{profile}: 0 of 1 recipe lines would migrate, 1 already slapkit, clean\n",
    )


def test_check_passes_when_only_what_stays_is_reported(tmp_path):
    # A recipe left as it is is reported on every run: it is no change to make.
    profile = tmp_path / "instance.cfg"
    profile.write_text("[d]\nrecipe = slapkit:mkdirectory\n[c]\nrecipe = plone.recipe.command\n")
    result = migrate("--check", str(profile), cwd=tmp_path)
    assert (result.returncode, result.stdout.splitlines()) == (
        0,
        [
            f"{profile}: 0 of 2 recipe lines would migrate, 1 already slapkit",
            f"  {profile}:4: [c] not covered: plone.recipe.command: not a "
            "slapos.cookbook or slapos.recipe.template recipe, left as it is",
        ],
    )


def test_lines_already_slapkit_are_counted_as_such(tmp_path):
    first, second = tmp_path / "a.cfg", tmp_path / "b.cfg"
    first.write_text(
        "[d]\nrecipe = slapkit:mkdirectory\n[w]\nrecipe = slapkit:wrapper\n"
        "[p]\nrecipe = slapos.cookbook:generate.password\n"
    )
    second.write_text("[t]\nrecipe = slapkit:jinja2\n[x]\nrecipe = slapkit:nosuch\n")
    result = migrate("--check", str(first), str(second), cwd=tmp_path)
    assert (result.returncode, result.stdout.splitlines()) == (
        1,
        [
            f"{first}: 1 of 3 recipe lines would migrate, 2 already slapkit, clean",
            f"{second}: 0 of 2 recipe lines would migrate, 1 already slapkit",
            f"  {second}:4: [x] not covered: slapkit:nosuch: slapkit has no such recipe",
            "2 profiles: 1 of 5 recipe lines would migrate, 3 already slapkit, 1 findings",
        ],
    )
    result = migrate(str(first), str(second), cwd=tmp_path)
    assert (result.returncode, result.stdout.splitlines()[-1]) == (
        0,
        "2 profiles: 1 of 5 recipe lines migrated, 3 already slapkit, 1 findings",
    )


def test_output_writes_beside_and_keeps_the_original(tmp_path):
    source, out = tmp_path / "src", tmp_path / "out"
    source.mkdir()
    out.mkdir()
    (source / "instance.cfg").write_text("[d]\nrecipe = slapos.cookbook:mkdirectory\n")
    (source / "instance-other.cfg").write_text("[c]\nrecipe = plone.recipe.command\n")
    result = migrate("--output", str(out), *map(str, sorted(source.iterdir())), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (source / "instance.cfg").read_text() == "[d]\nrecipe = slapos.cookbook:mkdirectory\n"
    assert (out / "instance.cfg").read_text() == "[d]\nrecipe = slapkit:mkdirectory\n"
    # A profile with nothing to migrate is copied as it is: --output is complete.
    assert (out / "instance-other.cfg").read_text() == "[c]\nrecipe = plone.recipe.command\n"
    assert result.stdout.splitlines()[-1] == (
        "2 profiles: 1 of 2 recipe lines migrated, 1 findings"
    )


def test_a_missing_profile_is_one_line_error_and_makes_no_output(tmp_path):
    result = migrate(str(tmp_path / "nosuch.cfg"), cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        2,
        f"slapkit: {tmp_path / 'nosuch.cfg'}: No such file or directory\n",
    )
    result = migrate("--output", str(tmp_path / "nodir"), "x.cfg", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        "slapkit: x.cfg: No such file or directory\n",
    )
    assert not os.path.lexists(tmp_path / "nodir")


def test_output_is_made_with_its_parents_as_mkdir_p(tmp_path):
    profile = tmp_path / "instance.cfg"
    profile.write_text("[d]\nrecipe = slapos.cookbook:mkdirectory\n")
    out = tmp_path / "migrated" / "profiles"
    result = migrate("--output", "migrated/profiles", "instance.cfg", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "instance.cfg: 1 of 1 recipe lines migrated, clean\n",
        "",
    )
    assert (out / "instance.cfg").read_text() == "[d]\nrecipe = slapkit:mkdirectory\n"
    assert os.listdir(tmp_path / "migrated") == ["profiles"]
    # There already, or a link to a directory: used as it is.
    (tmp_path / "link").symlink_to("migrated")
    result = migrate("--output", "link/profiles", str(profile), cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert os.listdir(out) == ["instance.cfg"]
    assert os.path.islink(tmp_path / "link")


@pytest.mark.parametrize("where", ["output", "parent"])
def test_output_that_is_a_file_is_one_line_error(tmp_path, where):
    profile = tmp_path / "instance.cfg"
    profile.write_text("[d]\nrecipe = slapos.cookbook:mkdirectory\n")
    in_the_way = tmp_path / "out"
    in_the_way.write_text("a file\n")
    out = in_the_way if where == "output" else in_the_way / "sub"
    result = migrate("--output", str(out), str(profile), cwd=tmp_path)
    reason = (
        "exists and is not a directory (a regular file)"
        if where == "output"
        else f"{in_the_way} is a regular file, not a directory"
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        f"slapkit: --output {out}: {reason}\n",
    )
    assert in_the_way.read_text() == "a file\n"
    assert profile.read_text() == "[d]\nrecipe = slapos.cookbook:mkdirectory\n"


def test_output_that_is_a_link_leading_nowhere_is_one_line_error(tmp_path):
    profile = tmp_path / "instance.cfg"
    profile.write_text("[d]\nrecipe = slapos.cookbook:mkdirectory\n")
    (tmp_path / "out").symlink_to("missing")
    result = migrate("--output", str(tmp_path / "out" / "sub"), str(profile), cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        f"slapkit: --output {tmp_path / 'out' / 'sub'}: {tmp_path / 'out'} is a symbolic "
        "link to missing, which does not exist\n",
    )
    assert sorted(os.listdir(tmp_path)) == ["instance.cfg", "out"]


# --- what the cookbook knows and slapkit refuses, through real buildout --------------


def test_an_empty_cookbook_option_is_no_option(buildout):
    buildout.run(
        f"[buildout]\nparts = w\n[w]\nrecipe = slapkit:wrapper\ncommand-line = true\n"
        f"wrapper-path = {buildout.path('w')}\nprivate-tmpfs =\n"
    ).check()
    assert buildout.path("w").exists()


def test_publish_refuses_the_cookbooks_control_options(buildout):
    result = buildout.run(
        "[buildout]\nparts = p\n[p]\nrecipe = slapkit:publish\nurl = x\n-error-status-file = s\n"
    )
    error_in(
        result,
        "[p] -error-status-file: slapos.cookbook's publish option is not implemented by slapkit",
    )
    assert not os.path.lexists(buildout.path(".slapkit", "connection.json"))


def test_jinja2_refuses_md5sum(buildout):
    result = buildout.run(
        f"[buildout]\nparts = t\n[t]\nrecipe = slapkit:jinja2\ninline = x\n"
        f"output = {buildout.path('out')}\nmd5sum = 0123\n"
    )
    error_in(result, "[t] md5sum: slapos.recipe.template's option is not implemented by slapkit")


def test_password_refuses_create_once_false(buildout):
    result = buildout.run(
        "[buildout]\nparts = p\n[p]\nrecipe = slapkit:generate.password\ncreate-once = false\n"
    )
    error_in(
        result,
        "[p] create-once: slapkit always keeps the stored password: only true (the default) "
        "is accepted",
    )
    buildout.run(
        "[buildout]\nparts = p\n[p]\nrecipe = slapkit:generate.password\ncreate-once = true\n"
    ).check()


# --- nothing ignored silently: what slapkit deploy shows --------------------------------


@pytest.fixture
def partition(tmp_path):
    from slapkit.runner.supervisor import Supervisor

    directory = tmp_path / "partition"
    yield directory
    Supervisor(directory).shutdown()


def deploy(profile_text: str, partition: Path) -> subprocess.CompletedProcess[str]:
    profile = partition.parent / "instance.cfg"
    profile.write_text(profile_text)
    return subprocess.run(
        [SLAPKIT, "deploy", str(profile), "--partition", str(partition)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_deploy_shows_an_option_no_recipe_read(partition):
    result = deploy(
        "[buildout]\nparts = w\n[w]\nrecipe = slapkit:wrapper\ncommand-line = true\n"
        "wrapper-path = ${buildout:directory}/w\nparameter-extra = true\n",
        partition,
    )
    assert result.returncode == 0, result.stdout
    assert "\nwarning      [w] unused option(s): 'parameter-extra'\n" in result.stdout


def test_a_recipe_that_does_not_exist_is_one_line(partition):
    result = deploy("[buildout]\nparts = x\n[x]\nrecipe = slapkit:switch-softwaretypo\n", partition)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    failed = next(n for n, text in enumerate(lines) if text.startswith("buildout     FAILED"))
    (line,) = lines[failed + 1 : -1]
    assert lines[-1].startswith("NOT OK in ")
    head = (
        "  [x] recipe: slapkit has no recipe 'slapkit:switch-softwaretypo' "
        "(did you mean 'slapkit:switch-softwaretype'? it has: "
    )
    assert line.startswith(head) and line.endswith(")")
    names = line[len(head) : -1].split(", ")
    assert names == sorted(names) and {"jinja2", "switch-softwaretype", "wrapper"} <= set(names)
    assert "switch-softwaretype.inherited" not in names  # set by the switch itself


def test_a_distribution_that_is_not_installed_is_one_line():
    # What zc.buildout says (a real run scans the whole package index first:
    # a minute on a machine with a local mirror).
    from slapkit.runner.buildout_errors import buildout_error

    lines = [
        "While:",
        "  Installing.",
        "  Getting section x.",
        "  Initializing section x.",
        "  Installing recipe nosuch.recipe.",
        "  Getting distribution for 'nosuch.recipe'.",
        "Error: We don't have a distribution for nosuch.recipe",
        "and can't install one in offline (no-install) mode.",
    ]
    assert buildout_error(lines).splitlines()[0] == (
        "[x] recipe: no distribution nosuch.recipe is installed "
        "(buildout runs offline: it downloads nothing)"
    )


def test_the_summary_shows_a_converted_cookbook_password(partition):
    (partition / "parts").mkdir(parents=True)
    (partition / "parts" / "pw").write_text('{"": "cookbook-made"}')
    result = deploy("[buildout]\nparts = pw\n[pw]\nrecipe = slapkit:generate.password\n", partition)
    assert result.returncode == 0, result.stdout
    assert f"  pw: converted slapos.cookbook password in {partition}/parts/pw\n" in result.stdout
    assert "files        1 changed" in result.stdout
    assert (partition / "parts" / "pw").read_text() == "cookbook-made"


# --- the reader and the rule, directly ---------------------------------------------------


def test_the_reader_keeps_line_numbers_through_odd_lines():
    from slapkit.migration.profile_text import read_sections

    text = (
        "  a continuation before anything\n"
        "orphan = an option before any section\n"
        "[a]\n"
        "recipe =\n"  # emptied by a macro's user
        "x += 1\n"
        "{# a template comment #}\n"
        "; a comment\n"
        "[{{ name }}]\n"
        "<= a\n"
        "recipe = slapos.cookbook:wrapper\n"
        "command-line =\n"
        "  /bin/true\n"
        "not an option line\n"
    )
    sections = read_sections(text)
    assert [(s.name, s.line) for s in sections] == [("a", 3), ("{{ name }}", 8)]
    assert [(o.name, o.operator, o.line) for o in sections[0].options] == [
        ("recipe", "=", 4),
        ("x", "+=", 5),
    ]
    assert [(o.name, o.line, o.continued) for o in sections[1].options] == [
        ("<", 9, False),
        ("recipe", 10, False),
        ("command-line", 11, True),
    ]
    assert text[sections[1].recipe.value_start :].startswith("slapos.cookbook:wrapper\n")


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("slapos.cookbook:wrapper", "slapkit:wrapper"),
        ("slapos.recipe.template", "slapkit:template"),
        ("slapos.recipe.template:jinja2", "slapkit:jinja2"),
        ("slapos.recipe.template:other", None),
        ("slapos.cookbook", None),
        ("plone.recipe.command", None),
        ("two words", None),
    ],
)
def test_the_rule(spec, expected):
    from slapkit.migration.rule import migrated

    assert migrated(spec) == expected


def test_what_a_migrated_part_does_differently_is_reported():
    from slapkit.migration.command import migrate_text

    text = (
        "[w]\nrecipe = slapos.cookbook:wrapper\nparameters-extra = true\n"
        "[p]\nrecipe = slapos.cookbook:generate.password\ncreate-once = false\n"
        "[e]\nrecipe =\n"
    )
    migrated_text, report = migrate_text(text)
    assert migrated_text == text.replace("slapos.cookbook:", "slapkit:")
    assert (report.rewritten, report.recipe_lines) == (2, 2)
    assert [(f.line, f.part, f.kind) for f in report.findings] == [(6, "p", "differs")]


@pytest.mark.parametrize("value", ["false", "No", "${:extra}"])
def test_a_wrapper_whose_parameters_extra_is_not_true_differs(value):
    # The cookbook's wrapper ignores parameters-extra: "$@" is always passed on.
    from slapkit.migration.command import migrate_text

    text = f"[w]\nrecipe = slapos.cookbook:wrapper\nparameters-extra = {value}\n"
    _, report = migrate_text(text)
    assert [(f.line, f.part, f.kind, f.message) for f in report.findings] == [
        (
            3,
            "w",
            "differs",
            f"parameters-extra = {value}: the cookbook's wrapper ignores it and always "
            'passes its own arguments on ("$@"), slapkit\'s passes them only when it is '
            "true: set parameters-extra = true to keep the cookbook's behaviour",
        )
    ]


def test_a_long_line_of_blanks_is_read_in_linear_time():
    # Each of these lines took the reader quadratic time (an 80 KB one, two
    # minutes): an option name, then blanks that are not followed by "=".
    from slapkit.migration.profile_text import read_sections

    blanks = " \t" * 100_000
    sections = read_sections(
        f"[a]\nx{blanks}\ny{blanks}= 1\nz{blanks}+= 2\n"
        f"recipe{blanks}={blanks}slapos.cookbook:wrapper{blanks}\n"
    )
    options = sections[0].options
    assert [(o.name, o.operator, o.value, o.line) for o in options] == [
        ("y", "=", "1", 3),
        ("z", "+=", "2", 4),
        ("recipe", "=", "slapos.cookbook:wrapper", 5),
    ]


def test_a_long_line_of_blanks_migrates_at_once(tmp_path):
    profile = tmp_path / "instance.cfg"
    text = "[a]\nrecipe = slapos.cookbook:wrapper\nx" + " " * 80_000 + "\n"
    profile.write_text(text)
    result = subprocess.run(
        [SLAPKIT, "migrate", str(profile)], capture_output=True, text=True, timeout=30
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert profile.read_text() == text.replace("slapos.cookbook:", "slapkit:")


def test_lines_are_split_where_buildout_splits_them(tmp_path):
    # Buildout reads a profile in text mode: a line ends at \n, \r\n or \r,
    # and nowhere else. What str.splitlines() also breaks at stays inside the
    # value, so a recipe line after it is no recipe line.
    import zc.buildout.configparser

    breaks = ["\f", "\v", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
    text = (
        "[a]\n"
        + "".join(
            f"note{i} = one{mark}recipe = slapos.cookbook:wrapper{mark}[x]\n"
            for i, mark in enumerate(breaks)
        )
        + "[b]\rrecipe = slapos.cookbook:mkdirectory\r\n"
        + "[c]\nrecipe = slapos.cookbook:simplehttpserver\n"
    )
    profile = tmp_path / "instance.cfg"
    profile.write_bytes(text.encode())
    with open(profile) as stream:
        before = zc.buildout.configparser.parse(stream, "before")
    result = migrate("--check", str(profile), cwd=tmp_path)
    assert result.stdout.splitlines() == [
        f"{profile}: 1 of 2 recipe lines would migrate",
        f"  {profile}:13: [c] not covered: slapos.cookbook:simplehttpserver: slapkit has no "
        "slapkit:simplehttpserver yet, left as it is",
    ]
    assert migrate(str(profile), cwd=tmp_path).returncode == 0
    expected = text.replace("recipe = slapos.cookbook:mkdirectory", "recipe = slapkit:mkdirectory")
    assert profile.read_bytes() == expected.encode()
    with open(profile) as stream:
        after = zc.buildout.configparser.parse(stream, "after")
    before["b"]["recipe"] = "slapkit:mkdirectory"
    assert after == before
