"""Property-based fuzzing of every recipe's options.

The only outcomes allowed: success, or a zc.buildout.UserError that names
the part and an option, having changed nothing on disk. Never another
exception. Path-like values are relative (joined to a temporary buildout
directory), and modules or extensions come from a fixed pool, so a fuzz
case never writes or imports outside what the test controls.

Options are real zc.buildout ``Options``, substituted as buildout does
when it reads a section: values may reference a ``[values]`` section whose
options hold what a hostile user sends (line breaks, ``${…}``, NUL bytes),
registered as slapkit:parameters registers user values.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import zc.buildout
import zc.buildout.buildout
import zc.buildout.configparser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buildout_harness import forget_run_state, snapshot
from slapkit.recipes.cron_d import CronD
from slapkit.recipes.free_port import FreePort
from slapkit.recipes.mkdirectory import MkDirectory
from slapkit.recipes.parameters import Parameters
from slapkit.recipes.password import GeneratePassword
from slapkit.recipes.plain_template import Template
from slapkit.recipes.promise import Promise
from slapkit.recipes.promise_plugin import PromisePlugin
from slapkit.recipes.publish import Publish
from slapkit.recipes.slapconfiguration import SlapConfiguration, SlapConfigurationSerialised
from slapkit.recipes.symbolic_link import SymbolicLink
from slapkit.recipes.template import Jinja2
from slapkit.recipes.wrapper import Wrapper

EXAMPLES = int(os.environ.get("SLAPKIT_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PART = "part"


class FakeBuildout(dict):
    """Sections by name, each a real zc.buildout Options."""

    def __getitem__(self, name):
        try:
            return dict.__getitem__(self, name)
        except KeyError:
            raise zc.buildout.buildout.MissingSection(name) from None


def real_options(buildout: FakeBuildout, name: str, data: dict[str, str]):
    """A real Options, substituted as ``Options._initialize`` does."""
    options = zc.buildout.buildout.Options(buildout, name, dict(data))
    buildout[name] = options
    for key, value in sorted(data.items()):
        if "${" in value:
            options._dosub(key, value)
    return options


# Every line break of str.splitlines(), and CR LF: hostile values hold each
# of them, not only "\n" (buildout's own, and its reader's \r and \r\n).
LINE_BREAKS = ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
BREAK_NAMES = {brk: "_".join(f"{ord(c):x}" for c in brk) for brk in LINE_BREAKS}

# What a hostile user sends, as slapkit:parameters would set it.
USER_VALUES = {
    "x": "1",
    "multi": "a\nLD_PRELOAD=/x/evil.so",
    **{f"multi_{BREAK_NAMES[brk]}": f"a{brk}LD_PRELOAD=/x/evil.so" for brk in LINE_BREAKS},
    "reference": "${buildout:directory}",
    "secretref": "${values:x}",
    "nul": "a\x00b",
    "section": "[evil]\nrecipe = x",
    "words": "two 'quoted words'",
}


def text(min_size=0, max_size=30):
    """Any text, line breaks of every kind frequent in it."""
    character = st.one_of(
        st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
        st.sampled_from(LINE_BREAKS),
    )
    return st.lists(character, min_size=min_size, max_size=max_size).map("".join)


segment = st.text("abcdefgh_-.", min_size=1, max_size=6).filter(lambda s: s not in (".", ".."))
relative_path = st.lists(segment, min_size=1, max_size=3).map("/".join)
TRICKY = (
    [
        "",
        " ",
        "0",
        "1",
        "yes",
        "off",
        "maybe",
        "0750",
        "750",
        "0o700",
        "0x9",
        "8888",
        "-1",
        "99999999999999999999",
        "a b",
        "'unbalanced",
        '"x y" z',
        "${x:y}",
        "$$",
        *LINE_BREAKS,
        *(f"line{brk}line" for brk in LINE_BREAKS),
        *(f"line{brk}" for brk in LINE_BREAKS),
        "{{ x }}",
        "{% if %}",
        "\\",
        "é",
        "[1, 2]",
        '{"a": 1}',
    ]
    + [f"${{values:{key}}}" for key in USER_VALUES]
    + ["A=${values:multi}", "p/${values:nul}"]
    + [f"A=${{values:multi_{name}}}" for name in BREAK_NAMES.values()]
)
value = st.one_of(st.sampled_from(TRICKY), text(max_size=30))
context_line = st.builds(
    lambda kind, name, expr: f"{kind} {name} {expr}",
    st.sampled_from(["key", "section", "raw", "json", "jsonkey", "import", "bogus"]),
    st.sampled_from(["a", "b", "v"]),
    st.sampled_from(
        ["values:x", ":output", "values", "nosuch:x", "{}", "[1", "json", "no_such_module", "x y"]
    ),
)
lines = lambda element: st.lists(element, max_size=3).map("\n".join)  # noqa: E731

RECIPES = {
    MkDirectory: {"mode": value, "a": relative_path, "b": relative_path, "c": st.just("")},
    Wrapper: {
        "command-line": value,
        "wrapper-path": relative_path,
        "environment": lines(value),
        "arguments": lines(value),
        "parameters-extra": value,
        "wait-for-files": lines(value),
        "pidfile": relative_path,
        "hash-files": lines(relative_path),
        "hash-existing-files": lines(relative_path),
    },
    GeneratePassword: {
        "storage-path": st.one_of(st.just(""), relative_path),
        "passwd": value,
        "bytes": value,
        "chars": value,
    },
    Jinja2: {
        "url": relative_path,
        "inline": value,
        "output": relative_path,
        "mode": value,
        "encoding": st.sampled_from(["utf-8", "latin-1", "ascii", "klingon", ""]),
        "context": lines(context_line),
        "once": relative_path,
        "extensions": st.sampled_from(
            ["", "jinja2.ext.do", "no.such.Ext", "jinja2.ext.loopcontrols"]
        ),
        "import-list": lines(
            st.builds(
                lambda k, n, p: f"{k} {n} {p}",
                st.sampled_from(["file", "rawfile", "folder"]),
                st.sampled_from(["lib", "x"]),
                relative_path,
            )
        ),
    },
    Parameters: {
        "parameters-file": relative_path,
        "schema": relative_path,
        "connection-section": st.sampled_from(["", "nosuch", "values"]),
        "ram-size": value,
        "other": value,
    },
    Publish: {
        "url": value,
        "password": value,
        "connection-section": st.sampled_from(["", "nosuch"]),
    },
    Promise: {
        "promise-path": relative_path,
        "port": value,
        "host": value,
        "url": value,
        "status": value,
        "path": value,
    },
    Template: {"url": relative_path, "inline": value, "output": relative_path, "mode": value},
    CronD: {
        "cron-entries": st.sampled_from(["a", "nosuch", "c"]),
        "name": value,
        "frequency": value,
        "time": st.one_of(value, st.sampled_from(["daily", "Mon 10:30", "*:0/15", "*-*-1"])),
        "command": value,
    },
    SymbolicLink: {"target-directory": relative_path, "link-binary": lines(value)},
    FreePort: {"ip": st.one_of(value, st.just("127.0.0.1")), "minimum": value, "maximum": value},
    PromisePlugin: {
        "output": relative_path,
        "module": value,
        "file": relative_path,
        "class": value,
        "config-x": value,
        "mode": value,
    },
    SlapConfiguration: {
        "instance-file": st.one_of(st.just("inst.json"), relative_path),
        "url": value,
        "storage-home": relative_path,
        "configuration.x": value,
    },
    SlapConfigurationSerialised: {
        "instance-file": st.one_of(st.just("inst.json"), relative_path),
        "url": value,
        "configuration.y": value,
    },
}


def option_sets(recipe):
    known = RECIPES[recipe]
    return st.fixed_dictionaries({}, optional=known)


def seed_files(directory: Path) -> None:
    """Some files and directories for paths to collide with."""
    (directory / "a").mkdir()
    (directory / "a" / "b").write_text("a file where a directory may be wanted")
    (directory / "c").write_text("{{ 1 + 1 }}")
    (directory / "schema.json").write_text(
        '{"type": "object", "properties": {"x": {"type": "integer"}}}'
    )
    (directory / "params.json").write_text('{"x": "7", "ram-size": ""}')
    (directory / "inst.json").write_text(
        '{"parameter-dict": {"x": "1", "_": "{\\"y\\": [1]}", "ip_list": [["lo", "::1"]]}}'
    )


def check(recipe_class, options: dict) -> str:
    from slapkit.core.run_state import begin_run
    from slapkit.core.user_values import register_user_values

    forget_run_state()  # each example is a buildout run of its own
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        seed_files(directory)
        buildout = FakeBuildout()
        begin_run(buildout)  # as the first recipe of the run would
        real_options(
            buildout,
            "buildout",
            {"directory": str(directory), "parts-directory": str(directory / "parts")},
        )
        values = real_options(buildout, "values", {})
        for key, text in USER_VALUES.items():
            values[key] = text  # set as data, as slapkit:parameters does
        register_user_values(list(USER_VALUES.values()))
        before = snapshot(directory)
        try:
            part_options = real_options(buildout, PART, {"recipe": "slapkit:fuzz", **options})
        except (zc.buildout.UserError, KeyError):
            return "buildout's own error"  # a malformed ${…}: buildout reports it
        try:
            recipe = recipe_class(buildout, PART, part_options)
            recipe.install()
            recipe.update()
        except zc.buildout.UserError as error:
            message = str(error)
            assert message.startswith(f"[{PART}] "), message
            option = message[len(PART) + 3 :].split(":", 1)[0]
            assert option in options or option in RECIPES[recipe_class] or option == "recipe", (
                message
            )
            assert "\x00" not in message
            if recipe_class is not GeneratePassword:  # it persists in its constructor, by contract
                assert snapshot(directory) == before, f"{message} but the disk changed"
            return "error"
        return "ok"


def make_test(recipe_class):
    @FUZZ
    @given(options=option_sets(recipe_class))
    def test(options):
        check(recipe_class, options)

    test.__name__ = f"test_fuzz_{recipe_class.__name__.lower()}"
    return test


for _recipe in RECIPES:
    globals()[f"test_fuzz_{_recipe.__name__.lower()}"] = make_test(_recipe)


@settings(
    max_examples=max(EXAMPLES // 5, 10),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(mode=value, command=value, environment=value)
def test_fuzz_through_real_buildout(tmp_path_factory, mode, command, environment):
    """A sample through the real buildout: success, or an error naming part and option."""
    from buildout_harness import BuildoutDir

    directory = tmp_path_factory.mktemp("fuzz")
    buildout = BuildoutDir(directory)

    def indent(v):  # a buildout value: continuation lines are indented
        # at every line break buildout's reader sees (a text file's: \n, \r,
        # \r\n); the others (U+2028, \x85, \v...) stay inside the value.
        return "\n  ".join(re.split(r"\r\n|\r|\n", v))

    profile = (
        "[buildout]\nparts = d w\n"
        f"[d]\nrecipe = slapkit:mkdirectory\nmode = {indent(mode)}\nsub = {directory}/sub\n"
        f"[w]\nrecipe = slapkit:wrapper\ncommand-line = {indent(command)}\n"
        f"environment = {indent(environment)}\nwrapper-path = {directory}/wrapper\n"
    )
    try:
        buildout.write(profile)
    except UnicodeEncodeError:
        return
    result = buildout.run()
    assert "Traceback" not in result.output, result.output
    if result.returncode != 0:
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert errors, result.output
        # buildout's own parse errors are buildout's; ours name part and option
        if errors[0].startswith("Error: [d]") or errors[0].startswith("Error: [w]"):
            assert not (directory / "wrapper").exists()


HOSTILE_NAMES = [
    "a=b",
    "a:b",
    "[s]",
    "__buildout_installed__",
    "<",
    *(f"x{brk}y" for brk in LINE_BREAKS),
    "_x",
    "configuration.greeting",
    "parameters-json",
    "recipe",
    "${buildout:directory}",
    "%(here)s",
    "",
    " ",
    "ok-name",
]
hostile_name = st.one_of(st.sampled_from(HOSTILE_NAMES), text(max_size=12))
hostile_value = st.one_of(st.sampled_from(list(USER_VALUES.values()) + TRICKY), text(max_size=40))


@settings(
    max_examples=max(EXAMPLES // 5, 10),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    parameters=st.dictionaries(hostile_name, hostile_value, max_size=5),
    greeting=hostile_value,
    brk=st.sampled_from(LINE_BREAKS),
)
def test_fuzz_hostile_parameters_through_real_buildout(tmp_path_factory, parameters, greeting, brk):
    """Hostile parameter names and values, through slapkit:parameters into a
    wrapper and a template, run twice by real buildout: success or an error
    naming a part; never a traceback, a section of the user's making in
    .installed.cfg, or a file outside the partition touched."""
    import json

    from buildout_harness import BuildoutDir

    directory = tmp_path_factory.mktemp("hostile")
    outside = directory.parent / (directory.name + "-outside")
    outside.mkdir()
    (outside / "data").write_text("keep")
    # "_" is SlapOS's JSON envelope of every parameter (its own tests):
    # here it would change which parameters there are.
    parameters = {k: v for k, v in parameters.items() if k != "_"}
    parameters = dict(parameters, greeting=greeting)
    evil = f"x\n[evil]\nrecipe = slapkit:mkdirectory\n__buildout_installed__ = {outside}\nz"
    parameters[evil.replace("\n", brk)] = "v"
    params = directory / "parameters.json"
    params.write_text(json.dumps(parameters))
    buildout = BuildoutDir(directory)
    buildout.write(f"""
[buildout]
parts = service config
[p]
recipe = slapkit:parameters
parameters-file = {params}
greeting = hello
[service]
recipe = slapkit:wrapper
command-line = /bin/echo
arguments = ${{p:greeting}}
environment = GREETING=${{p:greeting}}
wrapper-path = {directory}/service
[config]
recipe = slapkit:jinja2
output = {directory}/config.json
context = jsonkey all p:parameters-json
  key greeting p:greeting
inline = {{{{ all | tojson }}}}
""")
    for _ in range(2):
        result = buildout.run()
        assert "Traceback" not in result.output, result.output
        if result.returncode != 0:
            errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
            # A clear error naming a part.
            assert errors and errors[0].startswith(
                ("Error: [service] ", "Error: [config] ", "Error: [p] ")
            ), result.output
        assert (outside / "data").read_text() == "keep"
        installed = directory / ".installed.cfg"
        if installed.exists():
            with open(installed) as stream:
                sections = zc.buildout.configparser.parse(stream, str(installed))
            assert set(sections) <= {"buildout", "p", "service", "config"}, sorted(sections)
    if result.returncode == 0:
        rendered = json.loads((directory / "config.json").read_text())
        assert rendered["greeting"] == (greeting or "hello")
        assert {k for k in parameters if parameters[k] not in ("", None)} <= set(rendered)
