import errno
import json
import os
import stat

import pytest

from buildout_harness import snapshot
from test_error_paths import error_in


def profile(options: str, extra: str = "") -> str:
    return f"""
[buildout]
parts = config

[values]
name = world
port = 8080
json = {{"replicas": 3, "tags": ["a", "b"]}}

[config]
recipe = slapkit:jinja2
{options}
{extra}
"""


def test_inline_template_with_every_context_type(buildout):
    output = buildout.path("out.txt")
    buildout.run(
        profile(f"""output = {output}
inline =
  hello {{{{ name }}}} on {{{{ port }}}}
  section: {{{{ values['name'] }}}}/{{{{ values['port'] }}}}
  raw: {{{{ text }}}}
  json: {{{{ data['k'] | join(',') }}}}
  jsonkey: {{{{ settings['replicas'] }}}} {{{{ settings['tags'] | length }}}}
  import: {{{{ posixpath.join('a', 'b') }}}}
  builtins: {{{{ len(values) }}}} {{{{ sorted(['b', 'a']) }}}}
  own: {{{{ me }}}}
context =
  key name values:name
  key port values:port
  section values values
  raw text some literal text
  json data {{"k": [1, 2]}}
  jsonkey settings values:json
  import posixpath posixpath
  key me :output
""")
    ).check()
    assert output.read_text().splitlines() == [
        "hello world on 8080",
        "section: world/8080",
        "raw: some literal text",
        "json: 1,2",
        "jsonkey: 3 2",
        "import: a/b",
        "builtins: 3 ['a', 'b']",
        f"own: {output}",
    ]


def test_file_template_rewritten_only_on_change_atomically_keeping_mode(buildout):
    template = buildout.path("service.conf.in")
    template.write_text("port = {{ port }}\n")
    output = buildout.path("service.conf")
    text = profile(
        f"url = service.conf.in\noutput = {output}\nmode = 0640\ncontext = key port values:port"
    )
    first = buildout.run(text).check()
    assert output.read_text() == "port = 8080"  # Jinja2 drops the final newline
    assert stat.S_IMODE(output.stat().st_mode) == 0o640
    assert f"created {output}" in first.output

    before = snapshot(buildout.directory)
    second = buildout.run().check()
    assert snapshot(buildout.directory) == before
    assert "Installing" not in second.output and "updated" not in second.output

    inode = output.stat().st_ino
    template.write_text("port = {{ port }}\nlisten = 127.0.0.1\n")
    third = buildout.run().check()
    assert "Updating config." in third.output
    assert output.read_text() == "port = 8080\nlisten = 127.0.0.1"
    assert output.stat().st_ino != inode  # replaced by rename, never rewritten in place
    assert stat.S_IMODE(output.stat().st_mode) == 0o640
    assert f"updated {output}" in third.output
    assert [p.name for p in buildout.directory.iterdir() if p.name.endswith(".tmp")] == []


def test_output_edited_by_hand_is_restored(buildout):
    output = buildout.path("out")
    buildout.run(profile(f"inline = x={{{{ 1 + 1 }}}}\noutput = {output}")).check()
    output.write_text("edited")
    buildout.run().check()
    assert output.read_text() == "x=2"


def test_undefined_name_names_template_and_line_and_keeps_previous_output(buildout):
    template = buildout.path("t.in")
    template.write_text("line one\n{{ port }}\n")
    output = buildout.path("out")
    text = profile(f"url = {template}\noutput = {output}\ncontext = key port values:port")
    buildout.run(text).check()
    before = snapshot(buildout.directory)
    template.write_text("line one\nline two\n{{ missing_name }}\n")
    result = buildout.run()
    assert result.returncode != 0
    assert (
        f"Error: [config] url: rendering failed at {template}, line 3: "
        "UndefinedError: 'missing_name' is undefined"
    ) in result.output
    assert "Traceback" not in result.output
    assert output.read_text() == "line one\n8080"
    after = snapshot(buildout.directory)
    assert after["out"] == before["out"]


def test_a_template_that_cannot_render_stops_the_run_before_any_part_writes(buildout):
    first, second = buildout.path("first"), buildout.path("second")
    result = buildout.run(
        f"[buildout]\nparts = first second\n"
        f"[first]\nrecipe = slapkit:jinja2\noutput = {first}\ninline = fine\n"
        f"[second]\nrecipe = slapkit:jinja2\noutput = {second}\ninline = {{{{ missing }}}}\n"
    )
    assert not result.ok
    assert "Error: [second] inline: rendering failed" in result.output
    assert not first.exists() and not second.exists()


def test_dumps_is_given_as_zc_buildouts_own_or_slapkits(buildout):
    """slapos.recipe.template offers SlapOS's zc.buildout ``dumps`` (its
    fork has one); with PyPI's zc.buildout, which has none, slapkit's."""
    import zc.buildout.buildout

    output = buildout.path("out")
    text = profile(f"output = {output}\ninline = {{{{ dumps([1]) }}}}")
    buildout.run(text).check()
    if not hasattr(zc.buildout.buildout, "dumps"):
        assert output.read_text() == "!py![1]"


def test_a_key_context_gives_the_object_slapconfiguration_set(buildout):
    """``key`` serves the dict behind an option slapkit:slapconfiguration
    set, for the section the expression names."""
    answer = buildout.path("instance.json")
    answer.write_text(json.dumps({"parameter-dict": {"ram": 2048}, "state": "started"}))
    output = buildout.path("out")
    buildout.run(
        f"[buildout]\nparts = config\n"
        f"[slap]\nrecipe = slapkit:slapconfiguration\ninstance-file = {answer}\n"
        f"[config]\nrecipe = slapkit:jinja2\noutput = {output}\n"
        "inline = {{ c.ram + 1 }} {{ c | tojson }}\ncontext = key c slap:configuration\n"
    ).check()
    assert output.read_text() == '2049 {"ram": 2048}'


def test_syntax_error_in_inline_template(buildout):
    result = buildout.run(profile(f"inline =\n  ok\n  {{% if %}}\noutput = {buildout.path('out')}"))
    assert result.returncode != 0
    assert (
        "Error: [config] inline: rendering failed at <inline template of [config]>, line 2: TemplateSyntaxError"
        in result.output
    )
    assert not buildout.path("out").exists()


def test_import_list_file_rawfile_folder_and_rawfolder(buildout):
    macros = buildout.path("macros.in")
    macros.write_text("{% macro greet(who) %}hello {{ who }}{% endmacro %}")
    part = buildout.path("part.in")
    part.write_text("port {{ port }}")
    folder = buildout.path("lib")
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.in").write_text("a={{ 1 + 1 }}")
    output = buildout.path("out")
    buildout.run(
        profile(f"""output = {output}
macros-path = {macros}
lib-path = {folder}
context = key port values:port
inline = {{% import 'macros' as m %}}{{{{ m.greet('you') }}}} {{% include 'part' %}} {{% include 'lib/sub/a.in' %}} {{% include 'raw:sub:a.in' %}}
import-delimiter = :
import-list =
  file macros :macros-path
  rawfile part {part}
  folder lib :lib-path
  rawfolder raw {folder}
""").replace("lib/sub/a.in", "lib:sub:a.in")
    ).check()
    # rawfile means "the path is given as is" (slapos.recipe.template): rendered too.
    assert output.read_text() == "hello you port 8080 a=2 a=2"


@pytest.mark.parametrize("name", ["lib:..:macros.in", "lib", "nothing", "macros:x"])
def test_import_outside_what_import_list_gives_is_not_found(buildout, name):
    (buildout.path("lib")).mkdir()
    buildout.path("macros.in").write_text("secret macros")
    output = buildout.path("out")
    result = buildout.run(
        profile(f"""output = {output}
inline = {{% include '{name}' %}}
import-delimiter = :
import-list =
  rawfolder lib {buildout.path("lib")}
  rawfile macros {buildout.path("macros.in")}
""")
    )
    assert not result.ok
    assert "[config] inline: rendering failed at <inline template of [config]>" in result.output
    assert f"TemplateNotFound: {name}" in result.output
    assert not output.exists()


def generated_templates(greeting: str) -> str:
    """A template and a macro file made by earlier parts, used by a third."""
    return f"""
[buildout]
parts = config

[template]
recipe = slapkit:jinja2
output = ${{buildout:directory}}/config.in
inline = {greeting} {{{{ '{{{{' }}}} name {{{{ '}}}}' }}}}{{% raw %}}{{% import 'lib' as lib %}} {{{{ lib.mark() }}}}{{% endraw %}}

[macros]
recipe = slapkit:jinja2
output = ${{buildout:directory}}/lib.in
inline = {{% raw %}}{{% macro mark() %}}{{% endraw %}}{greeting}!{{% raw %}}{{% endmacro %}}{{% endraw %}}

[config]
recipe = slapkit:jinja2
url = ${{template:output}}
lib-path = ${{macros:output}}
import-list = file lib :lib-path
output = ${{buildout:directory}}/config.txt
context = raw name world
"""


def test_template_rewritten_by_an_earlier_part_is_rendered_in_the_same_run(buildout):
    """The part is read before the earlier parts install: one run must converge."""
    buildout.run(generated_templates("hello")).check()
    output = buildout.path("config.txt")
    assert output.read_text() == "hello world hello!"
    buildout.run(generated_templates("bye")).check()
    assert buildout.path("config.in").read_text().startswith("bye {{ name }}")
    assert output.read_text() == "bye world bye!"
    before = os.stat(output)
    rerun = buildout.run(generated_templates("bye")).check()
    assert "config.txt" not in rerun.output
    assert os.stat(output).st_mtime_ns == before.st_mtime_ns


def test_extensions(buildout):
    output = buildout.path("out")
    buildout.run(
        profile(f"""output = {output}
extensions = jinja2.ext.do
inline = {{% set l = [] %}}{{% do l.append(7) %}}{{{{ l }}}}
""")
    ).check()
    assert output.read_text() == "[7]"


def test_encoding(buildout):
    output = buildout.path("out")
    buildout.run(profile(f"output = {output}\nencoding = latin-1\ninline = caf\u00e9")).check()
    assert output.read_bytes() == b"caf\xe9"


def test_once_renders_a_single_time(buildout):
    output = buildout.path("service.conf")
    once = buildout.path("service.conf.done")
    text = profile(
        f"output = {output}\nonce = {once}\ninline = port={{{{ port }}}}\ncontext = key port values:port"
    )
    buildout.run(text).check()
    assert output.read_text() == "port=8080" and once.exists()
    output.write_text("port=9999  # rewritten by the service")
    buildout.run(text.replace("port = 8080", "port = 8081")).check()
    assert output.read_text() == "port=9999  # rewritten by the service"
    # not rendered at all: a template that could not render now is no error
    buildout.run(text.replace("{{ port }}", "{{ no_such_name }}")).check()
    assert output.read_text() == "port=9999  # rewritten by the service"
    # removing the part keeps the file the service owns
    buildout.run("[buildout]\nparts =\n").check()
    assert output.exists()


def test_once_may_be_the_output_itself(buildout):
    # As SlapOS profiles write an initial state file: the render is kept.
    output = buildout.path("exitcode")
    text = profile(f"output = {output}\nonce = {output}\ninline = 0")
    buildout.run(text).check()
    assert output.read_text() == "0"
    output.write_text("1")
    buildout.run(text).check()
    assert output.read_text() == "1"


def test_removing_the_part_removes_its_output(buildout):
    output = buildout.path("out")
    buildout.run(profile(f"inline = x\noutput = {output}")).check()
    buildout.run("[buildout]\nparts =\n").check()
    assert not output.exists()


@pytest.mark.parametrize(
    "options, message",
    [
        ("output = /tmp/x", "[config] url: give exactly one of 'url' and 'inline'"),
        (
            "output = /tmp/x\nurl = a\ninline = b",
            "[config] url: give exactly one of 'url' and 'inline'",
        ),
        ("inline = x", "[config] output: is required and was not given"),
        ("inline = x\noutput = /tmp/x\nmode = rw", "[config] mode: 'rw' is not an octal file mode"),
        (
            "inline = x\noutput = /tmp/x\ncontext = key onlytwo",
            "[config] context: 'key onlytwo' is not of the form TYPE NAME EXPRESSION",
        ),
        (
            "inline = x\noutput = /tmp/x\ncontext = bogus a b",
            "[config] context: 'bogus a b' is not of the form TYPE NAME EXPRESSION",
        ),
        (
            "inline = x\noutput = /tmp/x\ncontext = json a {nope",
            "[config] context: '{nope' is not valid JSON",
        ),
        (
            "inline = x\noutput = /tmp/x\ncontext = key a values:nothing",
            "[config] context: 'values:nothing': no such option",
        ),
        (
            "inline = x\noutput = /tmp/x\ncontext = key a values:",
            "[config] context: 'values:' is not of the form section:option",
        ),
        (
            "inline = x\noutput = /tmp/x\ncontext =\n  key a values:name\n  raw a text",
            "[config] context: 'a' is given twice",
        ),
        (
            "inline = {{ 7 // 0 }}\noutput = /tmp/x",
            "[config] inline: rendering failed at <inline template of [config]>, line 1: "
            "ZeroDivisionError: integer division or modulo by zero",
        ),
        (
            "inline = x\noutput = /tmp/x\ncontext = section a no-such-section",
            "[config] context: no section [no-such-section]",
        ),
        (
            "inline = x\noutput = /tmp/x\ncontext = import a no_such_module_here",
            "[config] context: cannot import 'no_such_module_here'",
        ),
        (
            "inline = x\noutput = /tmp/x\nextensions = no.such.Extension",
            "[config] extensions: cannot load",
        ),
        (
            "inline = x\noutput = /tmp/x\nencoding = klingon",
            "[config] encoding: unknown encoding 'klingon'",
        ),
        (
            "url = http://example.invalid/t\noutput = /tmp/x",
            "[config] url: 'http://example.invalid/t': only local files are supported",
        ),
        ("rendered = /tmp/x", "[config] template: is required and was not given"),
        (
            "rendered = /tmp/x\ntemplate = inline:\nurl = t",
            "[config] rendered: give either 'template' and 'rendered', or 'url' (or 'inline') and 'output'",
        ),
        (
            "rendered = /tmp/x\ntemplate = /no/such.in",
            "[config] template: '/no/such.in' does not exist",
        ),
        (
            "inline = x\noutput = /tmp/x\nimport-list = rawfile a/b /tmp/t",
            "[config] import-list: 'a/b' holds the import delimiter '/'",
        ),
        (
            "inline = x\noutput = /tmp/x\nimport-list = file a b c",
            "[config] import-list: 'b c' is not of the form section:option",
        ),
    ],
)
def test_bad_input_is_a_user_error(buildout, options, message):
    result = buildout.run(profile(options))
    assert result.returncode != 0
    assert f"Error: {message}" in result.output
    assert "Traceback" not in result.output


# --- a file another part of the new configuration writes is never removed ----------------


def one_config(part: str, output, options: str) -> str:
    return f"[buildout]\nparts = {part}\n[{part}]\nrecipe = slapkit:jinja2\noutput = {output}\n{options}\n"


@pytest.mark.parametrize(
    "second",
    [
        ("renamed", "inline = port 8080"),  # the part renamed
        ("config", "inline = port {{ port }}\ncontext = raw port 8080"),  # its options changed
    ],
    ids=["renamed", "options-changed"],
)
def test_an_output_the_new_part_writes_is_neither_removed_nor_rewritten(buildout, second):
    output = buildout.path("service.conf")
    buildout.run(one_config("config", output, "inline = port 8080")).check()
    before = os.stat(output)
    part, options = second
    result = buildout.run(one_config(part, output, options)).check()
    assert "Uninstalling config." in result.output and f"Installing {part}." in result.output
    assert output.read_text() == "port 8080"
    after = os.stat(output)  # the same file, not deleted then written again
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert "removed" not in result.output and "created" not in result.output


def _disk_full():
    """In the forked buildout only: every fsync fails as on a full disk."""

    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    os.fsync = fsync


def test_an_output_is_kept_when_the_part_that_writes_it_now_fails(buildout):
    """zc.buildout uninstalls the old part before it installs the renamed
    one: when that install fails (a full disk), the old file is still there."""
    output = buildout.path("service.conf")
    buildout.run(one_config("config", output, "inline = port 8080")).check()
    buildout.write(one_config("renamed", output, "inline = port 8081"))
    result = buildout.run_with(_disk_full)
    assert not result.ok and "Uninstalling config." in result.output
    assert "No space left on device" in result.output
    assert output.read_text() == "port 8080"


# --- the octal mode: the whole of 0o7777 ---------------------------------------------------


@pytest.mark.parametrize("mode", ["2750", "1777", "0o4755", "7777"])
def test_setgid_setuid_and_sticky_modes_are_applied(buildout, mode):
    output = buildout.path("out")
    text = profile(f"inline = x\noutput = {output}\nmode = {mode}")
    buildout.run(text).check()
    assert stat.S_IMODE(output.stat().st_mode) == int(mode.removeprefix("0o"), 8)
    before = snapshot(buildout.directory)
    buildout.run().check()
    assert snapshot(buildout.directory) == before  # found right: not written again


@pytest.mark.parametrize("mode", ["10000", "0o17777", "-1"])
def test_a_mode_past_0o7777_is_refused_naming_part_and_option(buildout, mode):
    output = buildout.path("out")
    result = buildout.run(profile(f"inline = x\noutput = {output}\nmode = {mode}"))
    assert result.returncode == 1
    assert f"Error: [config] mode: '{mode}' is not an octal file mode" in result.output
    assert "Traceback" not in result.output
    assert not output.exists()


def test_no_compiled_template_is_ever_loaded_from_the_partition(buildout, tmp_path):
    """Code kept in the partition could be written by anything running as
    its user, who can also read any key that would authenticate it: an
    outside test planted a salt and an entry with a matching HMAC and ran
    code inside buildout. Templates are compiled in the run, always."""
    import marshal

    import jinja2

    from slapkit.core import partition_state

    witness = tmp_path / "ran"
    profile = (
        "[buildout]\nparts = config\n[config]\nrecipe = slapkit:jinja2\n"
        f"output = {buildout.path('config')}\ninline = hello {{{{ 1 + 1 }}}}\n"
    )
    buildout.run(profile).check()
    assert not buildout.path(".slapkit", "jinja2").exists()
    evil = compile(f"open({str(witness)!r}, 'w').close()", "<planted>", "exec")
    planted = buildout.path(".slapkit", "jinja2")
    planted.mkdir(parents=True, exist_ok=True)
    for name in ("entry.code", "entry.bin", "0" * 64 + ".code"):
        partition_state.keep(str(buildout.directory), str(planted / name), marshal.dumps(evil))
    (planted / "jinja2-style").write_bytes(
        b"j2" + marshal.dumps(jinja2.Environment().compile("x", filename="t"))
    )
    buildout.path("config").unlink()
    buildout.run(subprocess=True).check()
    assert buildout.path("config").read_text() == "hello 2"
    assert not witness.exists()


NESTED = "output = ${buildout:parts-directory}/${:_buildout_section_name_}/etc/app.cfg\ninline = x"


def test_missing_directories_above_the_output_are_made_once_and_kept(buildout):
    part = buildout.path("parts", "config")
    first = buildout.run(profile(NESTED)).check()
    assert (part / "etc" / "app.cfg").read_text() == "x"
    for made in (part, part / "etc"):
        assert stat.S_IMODE(made.stat().st_mode) == 0o750  # 0777 less the umask (027)
        assert f"created directory {made}" in first.output
    before = snapshot(buildout.directory)
    second = buildout.run().check()
    assert snapshot(buildout.directory) == before
    assert "created" not in second.output
    # Removing the part removes its output; the directories stay, as
    # slapos.recipe.template leaves them (something else may be in them).
    (part / "etc" / "data").write_text("kept")
    buildout.run("[buildout]\nparts =\n").check()
    assert not (part / "etc" / "app.cfg").exists()
    assert (part / "etc" / "data").read_text() == "kept"


def test_no_directory_is_made_through_a_planted_link_or_over_a_file(buildout, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    buildout.path("parts").mkdir(exist_ok=True)
    buildout.path("parts", "config").symlink_to(elsewhere)
    result = buildout.run(profile(NESTED))
    error_in(result, "[config] output: cannot write ")
    assert f"{buildout.path('parts', 'config')}' is a symbolic link that no part" in result.output
    assert list(elsewhere.iterdir()) == []

    buildout.path("parts", "config").unlink()
    buildout.path("parts", "config").write_text("a file")
    result = buildout.run(profile(NESTED))
    error_in(result, "[config] output: cannot write ")
    assert f"{buildout.path('parts', 'config')}' is not a directory" in result.output
    assert buildout.path("parts", "config").read_text() == "a file"


# SlapOS's profiles render sub-profiles with {{ dumps(value) }}, for SlapOS's
# zc.buildout fork to read back as the object; slapkit does the same on PyPI's.
SUB_PROFILE = """[buildout]
parts = out

[profile-common]
data = {{ dumps(data) }}
word = {{ dumps(word) }}
count = {{ dumps(3) }}
odd = {{ dumps(odd) }}
flag = {{ dumps(True) }}
literal = {{ dumps('${x:y}') }}
command = {{ dumps('/bin/echo $HOME') }}

[out]
recipe = slapkit:jinja2
url = ${buildout:directory}/out.in
output = ${buildout:directory}/out.txt
context =
  key d profile-common:data
  key word profile-common:word
  key count profile-common:count
  key odd profile-common:odd
  key literal profile-common:literal
  jsonkey j profile-common:data
  section common profile-common

[wrapped]
recipe = slapkit:wrapper
command-line = ${profile-common:command}
wrapper-path = ${buildout:directory}/wrapped
"""

OUT = (
    "{{ d['ports'][1] + 1 }}|{{ d['name'] }}|{{ d['tags'] | sort | join(',') }}|{{ word }}|"
    "{{ count * 2 }}|{{ odd | tojson }}|{{ common['count'] + common['data']['ports'][0] }}|"
    "{{ common['flag'] is sameas true }}|{{ literal }}|{{ j['ports'][0] }}"
)


def test_dumps_values_are_read_back_as_the_objects_by_a_sub_profile(buildout):
    buildout.path("sub.in").write_text(SUB_PROFILE)
    buildout.path("out.in").write_text(OUT)
    rendered = buildout.path("rendered.cfg")
    buildout.run(
        profile(
            f"url = {buildout.path('sub.in')}\noutput = {rendered}",
            extra="context =\n"
            '  json data {"ports": [80, 443], "name": "a$b", "tags": ["b", "a"]}\n'
            "  raw word hello\n"
            '  json odd " padded $HOME\\nsecond line "\n',
        )
    ).check()
    text = rendered.read_text()
    assert "word = hello\n" in text  # a plain string stays plain, for any recipe
    assert "count = !py!3\n" in text
    assert "'name': 'a$$b'" in text  # buildout substitutes nothing in the value
    assert "literal = !py!'$${x:y}'\n" in text

    buildout.run(text.replace("parts = out", "parts = out wrapped")).check()
    assert buildout.path("out.txt").read_text() == (
        '444|a$b|a,b|hello|6|" padded $HOME\\nsecond line "|83|True|${x:y}|80'
    )
    # A recipe reading an option's text gets the string the value stands for.
    assert "exec '/bin/echo' '$HOME'\n" in buildout.path("wrapped").read_text()


def test_a_users_value_that_looks_serialised_stays_text(buildout):
    """Whatever a user's parameter holds, and wherever a ${…} carries it
    (directly, or through another option), it is data; and it never changes
    how the profile's own !py! values are read (a parameter "!py!" once hid
    every one of them)."""
    parameters = buildout.path("parameters.json")
    parameters.write_text(
        json.dumps({"items": "!py![1, 2]", "evil": "!py!__import__('os')", "name": "!py!"})
    )
    output = buildout.path("out.txt")
    buildout.run(f"""
[buildout]
parts = out

[slap-parameter]
recipe = slapkit:parameters
parameters-file = {parameters}
items = !py![7]
evil =
name =

[copy]
items = ${{slap-parameter:items}}
again = ${{:items}}
mine = !py![7]

[flags]
debug = !py!False
ports = !py![8080, 8081]

[out]
recipe = slapkit:jinja2
output = {output}
inline =
  {{{{ name }}}} {{{{ items | length }}}} {{{{ evil }}}} {{{{ mine | length }}}}
  {{{{ copy['items'] }}}} {{{{ again }}}} {{{{ 'on' if flags['debug'] else 'off' }}}}
  {{{{- ' ' }}}}{{{{ flags['ports'] | length }}}}
context =
  key name slap-parameter:name
  key items slap-parameter:items
  key evil slap-parameter:evil
  key mine copy:mine
  key again copy:again
  section copy copy
  section flags flags
""").check()
    assert output.read_text() == ("!py! 10 !py!__import__('os') 1\n!py![1, 2] !py![1, 2] off 2")


def test_a_serialised_value_that_is_no_literal_is_a_clear_error(buildout):
    output = buildout.path("out.txt")
    result = buildout.run(f"""
[buildout]
parts = out

[common]
path = !py!'/srv/' + 'x'[1:]

[out]
recipe = slapkit:jinja2
output = {output}
inline = {{{{ p }}}}
context = key p common:path
""")
    error_in(
        result, "[out] context: 'common:path': \"!py!'/srv/' + 'x'[1:]\" is not a Python literal"
    )
    assert "slapkit reads literals only" in result.output
    assert not output.exists()


def test_dumps_of_what_has_no_literal_is_a_template_error(buildout):
    output = buildout.path("out.txt")
    result = buildout.run(profile(f"output = {output}\ninline = {{{{ dumps(dumps) }}}}"))
    assert result.returncode == 1
    assert "Traceback" not in result.output
    assert "has no literal" in result.output, result.output
    assert not output.exists()


def test_a_parameter_climbing_out_of_the_output_directory_is_refused(buildout, tmp_path):
    parameters = buildout.path("parameters.json")
    parameters.write_text(json.dumps({"sub": "../../escaped/deep"}))
    result = buildout.run(f"""
[buildout]
parts = out

[slap-parameter]
recipe = slapkit:parameters
parameters-file = {parameters}
sub = default

[out]
recipe = slapkit:jinja2
output = ${{buildout:directory}}/srv/${{slap-parameter:sub}}/x.conf
inline = x
""")
    error_in(result, "[out] output: ")
    assert "that climbs out of the directory the profile names" in result.output
    assert not (tmp_path / "escaped").exists() and not buildout.path("srv").exists()


def test_no_output_is_written_through_a_planted_link_to_an_existing_directory(buildout, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "sub").mkdir(parents=True)
    buildout.path("etc").symlink_to(elsewhere)
    result = buildout.run(profile("output = ${buildout:directory}/etc/sub/x.conf\ninline = x"))
    error_in(result, "[config] output: cannot write ")
    assert list((elsewhere / "sub").iterdir()) == []
