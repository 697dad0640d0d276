"""zc.buildout's private Options internals, as slapkit relies on them.

Runs on every zc.buildout the test command covers (3.0.1 and today's 6.x):
if a release changes what core/buildout_internals.py touches, these fail
before any recipe misbehaves.
"""

import importlib.metadata
import inspect
import io

import hypothesis
import pytest
import zc.buildout.buildout

from slapkit.core.buildout_internals import (
    ensure_single_substitution,
    mark_slapkit_run,
    raw_value,
    substitute,
    take_out,
    zc_buildout_get,
)

Options = zc.buildout.buildout.Options


class Sections(dict):
    """A buildout's sections, as ``Options.buildout`` holds them: a run that
    loads slapkit unless said otherwise."""

    def __init__(self, slapkit_run=True):
        super().__init__()
        if slapkit_run:
            mark_slapkit_run(self)

    def __getitem__(self, name):
        try:
            return dict.__getitem__(self, name)
        except KeyError:
            raise zc.buildout.buildout.MissingSection(name) from None


def section(sections, name, raw):
    """A real Options, substituted as ``Options._initialize`` does."""
    options = sections[name] = Options(sections, name, dict(raw))
    for key, value in sorted(raw.items()):
        if "${" in value:
            options._dosub(key, value)
    return options


def test_the_version_is_one_slapkit_supports():
    major = int(importlib.metadata.version("zc.buildout").split(".")[0])
    assert 3 <= major <= 6


def test_options_keep_raw_cooked_and_data_stores():
    options = Options(Sections(), "s", {"a": "1"})
    for store in ("_raw", "_cooked", "_data"):
        assert isinstance(getattr(options, store), dict), store
    assert list(inspect.signature(Options._sub).parameters) == ["self", "template", "seen"]
    # zc.buildout's own get, not slapkit's stand-in (which has this signature
    # whatever zc.buildout's becomes).
    assert list(inspect.signature(zc_buildout_get()).parameters)[:4] == [
        "self",
        "option",
        "default",
        "seen",
    ]


def hostile_chain():
    sections = Sections()
    section(sections, "secret", {"passwd": "hunter2"})
    user = section(sections, "p", {})
    user["greeting"] = "${secret:passwd}"
    return section(sections, "w", {"env": "G=${p:greeting}"})


def test_upstream_get_substitutes_a_value_twice():
    """Why slapkit patches Options.get: zc.buildout's own expands a ${…}
    that a user's value brought in (the password, here)."""
    ensure_single_substitution()
    assert zc_buildout_get()(hostile_chain(), "env") == "G=hunter2"
    assert hostile_chain().get("env") == "G=${secret:passwd}"


def test_a_run_slapkit_takes_no_part_in_gets_upstreams_get():
    """The patch is the class's for the whole process (a test forks buildouts
    of slapos.recipe.template beside slapkit's): it acts only in a run that
    loads slapkit."""
    ensure_single_substitution()
    sections = Sections(slapkit_run=False)
    section(sections, "secret", {"passwd": "hunter2"})
    user = section(sections, "p", {})
    user["greeting"] = "${secret:passwd}"
    assert section(sections, "w", {"env": "G=${p:greeting}"}).get("env") == "G=hunter2"
    mark_slapkit_run(sections)
    assert section(sections, "v", {"env": "G=${p:greeting}"}).get("env") == "G=${secret:passwd}"


def test_a_value_a_recipe_sets_is_substituted_once():
    ensure_single_substitution()
    sections = Sections()
    section(sections, "secret", {"passwd": "hunter2"})
    user = section(sections, "p", {})
    user["greeting"] = "${secret:passwd} ${nosuch:x}"  # set as data, as a recipe does
    chain = section(sections, "chain", {"greeting": "${p:greeting}"})
    consumer = section(sections, "w", {"env": "G=${chain:greeting}", "lit": "$${p:greeting}"})
    assert consumer.get("env") == "G=${secret:passwd} ${nosuch:x}"
    assert consumer["env"] == "G=${secret:passwd} ${nosuch:x}"
    assert chain.get("greeting") == "${secret:passwd} ${nosuch:x}"
    assert consumer.get("lit") == "$${p:greeting}"  # buildout's own escape, untouched


def test_profile_references_are_still_substituted():
    ensure_single_substitution()
    sections = Sections()
    section(sections, "a", {"x": "1", "y": "${:x}2"})
    b = section(sections, "b", {"z": "${a:y}3"})
    assert b["z"] == "123"
    assert b.get("missing", "default") == "default"
    with pytest.raises(zc.buildout.buildout.MissingOption):
        section(sections, "c", {"z": "${a:nosuch}"})


def test_take_out_removes_an_option_from_every_store():
    sections = Sections()
    section(sections, "a", {"x": "1"})
    b = section(sections, "b", {"secret": "${a:x}", "plain": "p"})
    assert b["secret"] == "1"
    assert take_out(b, "secret") == "1"
    assert "secret" not in b.keys() and b.get("secret") is None
    assert raw_value(b, "plain") == "p" and raw_value({}, "plain") is None


def test_substitute_one_piece_of_the_raw_text():
    sections = Sections()
    section(sections, "a", {"x": "two words\nand a line"})
    b = section(sections, "b", {"args": "${a:x}\n--flag"})
    raw = raw_value(b, "args")
    assert [substitute(b, "args", line) for line in raw.split("\n")] == [
        "two words\nand a line",
        "--flag",
    ]


@pytest.mark.parametrize(
    "value, read_back",
    [
        (" spaced ", " spaced "),  # zc.buildout's own space encoding keeps these
        ("a\n  b", "a\n  b"),
        ("a\r\nb\rc", "a\nb\nc"),  # universal newlines
        ("\x1f", ""),  # outer control characters and tabs are stripped
        ("x\t", "x"),
        ("\u2028y", "y"),
        ("a\x1fb", "a\x1fb"),
    ],
)
def test_as_read_back_is_what_zc_buildout_reads_from_installed_cfg(tmp_path, value, read_back):
    from slapkit.core.buildout_internals import as_read_back

    assert as_read_back(value) == read_back
    # The same trip through zc.buildout's own file functions:
    path = tmp_path / "installed.cfg"
    with open(path, "w") as stream:
        stream.write("[s]\n")
        zc.buildout.buildout._save_option(
            "o", value.replace("\r\n", "\n").replace("\r", "\n"), stream
        )
    with open(path) as stream:
        back = zc.buildout.configparser.parse(stream, str(path))["s"].get("o", "")
    for key, replacement in zc.buildout.buildout._spacey_defaults:
        back = back.replace(key, replacement)
    assert back == read_back


def read_back_by_zc_buildout(value):
    """A value's trip through zc.buildout's own save and parse functions."""
    stream = io.StringIO()
    stream.write("[s]\n")
    zc.buildout.buildout._save_option("o", value, stream)
    stream.seek(0)
    back = zc.buildout.configparser.parse(stream, "<value>")["s"].get("o", "")
    for key, replacement in zc.buildout.buildout._spacey_defaults:
        back = back.replace(key, replacement)
    return back


# Every character zc.buildout's saving or parsing treats apart: blanks,
# Unicode line breaks, what its space encoding and its comments use.
AWKWARD = " \t\n\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u2029\u3000#;[]=:%()s_-+xé"


@hypothesis.settings(max_examples=600, deadline=None)
@hypothesis.given(hypothesis.strategies.text(alphabet=AWKWARD, max_size=60))
def test_as_read_back_agrees_with_zc_buildouts_parser(value):
    from slapkit.core.buildout_internals import as_read_back

    try:
        expected = read_back_by_zc_buildout(value)
    except zc.buildout.configparser.Error:
        hypothesis.assume(False)
    assert as_read_back(value) == expected


def test_as_read_back_costs_what_the_value_is_long():
    """400,000 lines read back (zc.buildout's parser adds each line to the
    value so far: this took about a minute); checked by the result, not by
    the time, and the same as the parser's on a shorter one."""
    from slapkit.core.buildout_internals import as_read_back

    lines = [f"  line {i}\t" if i % 3 else "" for i in range(400_000)]
    back = as_read_back("\n".join(lines))
    assert back.count("\n") == 400_000 - 1
    short = "\n".join(lines[:2000])
    assert as_read_back(short) == read_back_by_zc_buildout(short)


def test_saved_options_are_final_values():
    """What .installed.cfg holds is read back as it is: upstream would
    substitute a "${x:y}" there (a user's value) and fail. zc.buildout reads
    it before it loads any recipe, so the patch cannot mark what it reads:
    a section is saved when it is not the one the buildout hands out."""
    ensure_single_substitution()
    sections = Sections()
    saved = Options(sections, "w", {"arguments": "${x:y}"})  # as _read_installed_part_options
    assert saved["arguments"] == "${x:y}"
    section(sections, "a", {"b": "1"})
    sections["c"] = Options(sections, "c", {"z": "${a:b}"})  # current, not yet cooked
    assert sections["c"]["z"] == "1"  # current sections are substituted
    original = zc_buildout_get()
    with pytest.raises(zc.buildout.buildout.MissingSection):  # upstream looks x up
        original(Options(sections, "w", {"arguments": "${x:y}"}), "arguments")
