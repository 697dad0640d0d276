"""``slapkit:template``: plain templates, byte for byte what slapos.recipe.template writes.

The same profile, its ``recipe =`` lines the only difference, is built with
slapos.recipe.template and with slapkit: every output must be the same bytes
with the same mode. Then what slapkit adds: a second run writes nothing, a
file changed by hand is put back, errors name part and option, and a value
a ``${…}`` brings in is data.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from buildout_harness import BuildoutDir, snapshot
from test_error_paths import error_in

PROFILE = """
[buildout]
parts = from-file inline script not-a-script private checked

[values]
name = world
port = 8080
dollars = $${not-a-reference} and $$HOME

[from-file]
recipe = RECIPE
url = ${buildout:directory}/templates/config.in
output = ${buildout:directory}/out/config

[inline]
recipe = RECIPE
output = ${buildout:directory}/out/inline
inline =
  port=${values:port}
  ${values:dollars}
    indented line

[script]
recipe = RECIPE
output = ${buildout:directory}/out/script
inline =
  #!/bin/sh
  exec echo ${values:name}

[not-a-script]
recipe = RECIPE
output = ${buildout:directory}/out/not-a-script
inline =
  #!/no/such/interpreter
  ${values:name}

[private]
recipe = RECIPE
output = ${buildout:directory}/out/private
mode = 0600
inline = secret=${values:name}

[checked]
recipe = RECIPE
url = ${buildout:directory}/templates/config.in
md5sum = MD5SUM
output = ${buildout:directory}/out/checked
"""

CONFIG = (
    "# for ${values:name}\nlisten ${values:port}\ncost $$5 and $${literal}\nfrom ${:output}\n\n"
)


def build(directory: Path, recipe: str) -> dict[str, tuple[bytes, int]]:
    directory.mkdir()
    (directory / "templates").mkdir()
    (directory / "templates" / "config.in").write_text(CONFIG)
    (directory / "out").mkdir()
    md5 = hashlib.md5(CONFIG.encode()).hexdigest()
    profile = PROFILE.replace("RECIPE", recipe).replace("MD5SUM", md5)
    BuildoutDir(directory).run(profile).check()
    # ${:output} names the build's own directory: the one thing that differs.
    return {
        path.name: (
            path.read_bytes().replace(str(directory).encode(), b"DIR"),
            stat.S_IMODE(path.stat().st_mode),
        )
        for path in sorted((directory / "out").iterdir())
    }


def test_same_bytes_and_modes_as_slapos_recipe_template(tmp_path):
    pytest.importorskip("slapos.recipe.template", reason="compared with slapos.recipe.template")
    upstream = build(tmp_path / "upstream", "slapos.recipe.template")
    ours = build(tmp_path / "slapkit", "slapkit:template")
    assert (
        sorted(ours)
        == sorted(upstream)
        == ["checked", "config", "inline", "not-a-script", "private", "script"]
    )
    for name in upstream:
        assert ours[name] == upstream[name], name
    # What the comparison covers, spelled out: in a template file, $$ is an
    # escaped $ and the final newline is kept; an option's value (inline) is
    # what zc.buildout gives, its $$ kept as they are.
    assert ours["config"][0] == (
        b"# for world\nlisten 8080\ncost $5 and ${literal}\nfrom DIR/out/config\n\n"
    )
    assert ours["inline"][0] == b"port=8080\n$${not-a-reference} and $$HOME\n  indented line"
    assert ours["script"][1] == 0o750  # a #! script is executable (umask 027)
    assert ours["not-a-script"][1] == 0o640
    assert ours["private"][1] == 0o600


def profile(buildout, **options: str) -> str:
    options.setdefault("output", str(buildout.path("out")))
    lines = "".join(f"{key} = {value}\n" for key, value in options.items())
    return f"[buildout]\nparts = t\n[v]\nx = 1\n[t]\nrecipe = slapkit:template\n{lines}"


def test_a_second_run_writes_nothing_and_a_hand_edit_is_put_back(buildout):
    text = profile(buildout, inline="x=${v:x}")
    buildout.run(text).check()
    out = buildout.path("out")
    before = snapshot(buildout.directory)
    result = buildout.run().check()
    assert snapshot(buildout.directory) == before
    assert "Installing" not in result.output and "updated" not in result.output
    out.write_text("edited")
    result = buildout.run(text).check()
    assert out.read_text() == "x=1"
    assert f"t: updated {out}" in result.output


def test_a_users_value_brought_in_is_data(buildout, tmp_path):
    template = tmp_path / "t.in"
    template.write_text("v=${p:x}\n")
    parameters = tmp_path / "parameters.json"
    hostile = "${buildout:directory} ${nosuch:x} $$ $"
    parameters.write_text(json.dumps({"x": hostile}))
    text = profile(buildout, url=str(template)).replace(
        "[v]", f"[p]\nrecipe = slapkit:parameters\nparameters-file = {parameters}\n[v]"
    )
    buildout.run(text).check()
    assert buildout.path("out").read_text() == f"v={hostile}\n"
    buildout.run().check()  # and no later run is wedged


def test_removing_the_part_removes_its_output(buildout):
    buildout.run(profile(buildout, inline="x")).check()
    buildout.run("[buildout]\nparts =\n").check()
    assert not buildout.path("out").exists()


@pytest.mark.parametrize(
    "options, message",
    [
        ({}, "[t] url: give exactly one of 'url' and 'inline'"),
        ({"url": "a", "inline": "b"}, "[t] url: give exactly one of 'url' and 'inline'"),
        ({"inline": "x", "md5sum": "00"}, "[t] md5sum: only for a template given by url"),
        (
            {"url": "/no/such/file"},
            "[t] url: cannot read '/no/such/file': No such file or directory",
        ),
        ({"inline": "x", "mode": "0x9"}, "[t] mode: '0x9' is not an octal file mode"),
        ({"inline": "${nosuch:x}"}, "The referenced section, 'nosuch', was not defined."),
    ],
)
def test_bad_options_are_user_errors(buildout, options, message):
    result = buildout.run(profile(buildout, **options))
    assert result.returncode == 1 and "Traceback" not in result.output, result.output
    assert message in result.output
    assert not os.path.lexists(buildout.path("out"))


def test_a_template_whose_md5sum_differs_is_refused(buildout, tmp_path):
    template = tmp_path / "t.in"
    template.write_text("x\n")
    error_in(
        buildout.run(profile(buildout, url=str(template), md5sum="0" * 32)),
        f"[t] md5sum: {template} has md5sum {hashlib.md5(b'x' + bytes([10])).hexdigest()}, "
        f"not {'0' * 32}",
    )


def test_a_template_that_is_not_utf8_is_a_user_error(buildout, tmp_path):
    template = tmp_path / "t.in"
    template.write_bytes(b"caf\xe9")
    error_in(
        buildout.run(profile(buildout, url=str(template))),
        f"[t] url: cannot read '{template}': not UTF-8 text",
    )


def test_missing_directories_above_the_output_are_made_never_through_a_planted_link(
    buildout, tmp_path
):
    nested = "${buildout:parts-directory}/${:_buildout_section_name_}/etc/app.cfg"
    part = buildout.path("parts", "t")
    first = buildout.run(profile(buildout, output=nested, inline="x=${v:x}")).check()
    assert (part / "etc" / "app.cfg").read_text() == "x=1"
    assert stat.S_IMODE((part / "etc").stat().st_mode) == 0o750
    assert f"created directory {part / 'etc'}" in first.output
    before = snapshot(buildout.directory)
    buildout.run().check()
    assert snapshot(buildout.directory) == before

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    buildout.run("[buildout]\nparts =\n").check()
    (part / "etc" / "app.cfg").unlink(missing_ok=True)
    (part / "etc").rmdir()
    part.rmdir()
    part.symlink_to(elsewhere)
    result = buildout.run(profile(buildout, output=nested, inline="x=${v:x}"))
    error_in(result, "[t] output: cannot write ")
    assert list(elsewhere.iterdir()) == []
