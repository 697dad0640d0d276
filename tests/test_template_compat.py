"""slapkit:jinja2 is a drop-in for slapos.recipe.template:jinja2.

The same profile, its ``recipe =`` lines the only difference, is built once
with the real slapos.recipe.template and once with slapkit: every output
must be the same bytes with the same mode, so a profile migrates without a
single changed file (and no service restarts for a ``hash-files`` digest).
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from buildout_harness import BuildoutDir

pytest.importorskip("slapos.recipe.template", reason="compared with slapos.recipe.template")

PROFILE = """
[buildout]
parts = from-file inline old-inline old-file imports script not-a-script private nested

[values]
name = world
port = 8080
words = ["Peng", "Neee-wom"]

[from-file]
recipe = RECIPE
url = ${buildout:directory}/templates/config.in
output = ${buildout:directory}/out/config
context = CONTEXT_OF_OUTPUT

[inline]
recipe = RECIPE
output = ${buildout:directory}/out/inline
extensions = jinja2.ext.do
inline =
  {% set items = [] %}{% do items.append(port) %}
  port={{ items[0] }} {{ len(items) }} {{ sorted(['b', 'a']) }}
  {{ assert(port, 'no port') }}last line
context = key port values:port

[old-inline]
recipe = RECIPE
template = inline:
  hello {{ name }}
rendered = ${buildout:directory}/out/old-inline
context = key name values:name

[old-file]
recipe = RECIPE
template = ${buildout:directory}/templates/config.in
rendered = ${buildout:directory}/out/old-file
context = CONTEXT_OF_RENDERED

[imports]
recipe = RECIPE
url = ${buildout:directory}/templates/imports.in
output = ${buildout:directory}/out/imports
macros = ${buildout:directory}/templates/macros.in
folder = ${buildout:directory}/templates/lib
import-list =
  file macros :macros
  rawfile part ${buildout:directory}/templates/part.in
  folder lib :folder
  rawfolder rawlib ${buildout:directory}/templates/lib
context = key port values:port

[script]
recipe = RECIPE
output = ${buildout:directory}/out/script
inline =
  #!/bin/sh
  exec echo {{ name }}
context = key name values:name

[not-a-script]
recipe = RECIPE
output = ${buildout:directory}/out/not-a-script
inline =
  #!/no/such/interpreter
  {{ name }}
context = key name values:name

[private]
recipe = RECIPE
output = ${buildout:directory}/out/private
mode = 0600
inline = secret={{ name }}
context = key name values:name

# Into directories nobody made: the template makes them (many root profiles).
[nested]
recipe = RECIPE
output = ${buildout:parts-directory}/${:_buildout_section_name_}/etc/nested.cfg
inline = nested {{ name }}
context = key name values:name
"""

# Every context type, for both the new and the old option names.
CONTEXT = """
  key name values:name
  key own :OWN
  section values values
  raw knight Ni !
  json numbers [1, 2, 3]
  jsonkey words values:words
  import posixpath posixpath"""

TEMPLATES = {
    "config.in": (
        "name={{ name }} own={{ own.split('/')[-1] }}\n"
        "port={{ values['port'] }} knight={{ knight }}\n"
        "{% for n in numbers %}{{ n }},{% endfor %} {{ words | join('+') }}\n"
        "{{ posixpath.join('a', 'b') }}\n"
        "\n"
    ),
    "imports.in": (
        "{% import 'macros' as m %}{{ m.greet('you') }}\n"
        "{% include 'part' %}\n"
        "{% include 'lib/a.in' %} {% include 'rawlib/sub/b.in' %}\n"
    ),
    "macros.in": "{% macro greet(who) %}hello {{ who }}{% endmacro %}",
    "part.in": "port {{ port }}\n",
    "lib/a.in": "a={{ 1 + 1 }}",
    "lib/sub/b.in": "b={{ port }}\n",
}


def build(directory: Path, recipe: str) -> dict[str, tuple[bytes, int]]:
    directory.mkdir()
    for name, text in TEMPLATES.items():
        path = directory / "templates" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (directory / "out").mkdir()
    profile = PROFILE.replace("RECIPE", recipe)
    for own in ("output", "rendered"):
        profile = profile.replace(f"CONTEXT_OF_{own.upper()}", CONTEXT.replace("OWN", own))
    BuildoutDir(directory).run(profile).check()
    made = {
        str(path.relative_to(directory)): (
            b"" if path.is_dir() else path.read_bytes(),
            stat.S_IMODE(path.stat().st_mode),
        )
        for path in sorted((directory / "parts" / "nested").rglob("*"))
    }
    made["parts/nested"] = (b"", stat.S_IMODE((directory / "parts" / "nested").stat().st_mode))
    return made | {
        path.name: (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
        for path in sorted((directory / "out").iterdir())
    }


def test_same_bytes_and_modes_as_slapos_recipe_template(tmp_path):
    upstream = build(tmp_path / "upstream", "slapos.recipe.template:jinja2")
    ours = build(tmp_path / "slapkit", "slapkit:jinja2")
    assert (
        sorted(ours)
        == sorted(upstream)
        == [
            "config",
            "imports",
            "inline",
            "not-a-script",
            "old-file",
            "old-inline",
            "parts/nested",
            "parts/nested/etc",
            "parts/nested/etc/nested.cfg",
            "private",
            "script",
        ]
    )
    for name in upstream:
        assert ours[name] == upstream[name], name
    # What the comparison covers, spelled out:
    assert ours["config"][0] == (
        b"name=world own=config\nport=8080 knight=Ni !\n1,2,3, Peng+Neee-wom\na/b\n"
    )  # the template's final newline is dropped, as Jinja2 does by default
    assert ours["imports"][0] == b"hello you\nport 8080\na=2 b=8080"
    assert ours["script"][1] == 0o750  # a #! script is executable (umask 027)
    assert ours["not-a-script"][1] == 0o640
    assert ours["private"][1] == 0o600
    # Missing directories are made 0777 less the umask, the file inside them as any other.
    assert ours["parts/nested"][1] == ours["parts/nested/etc"][1] == 0o750
    assert ours["parts/nested/etc/nested.cfg"] == (b"nested world", 0o640)
