"""Small functions tested directly, beside the real-buildout tests: the
defensive branches a real run rarely reaches (races, dead processes, odd
schemas, files in the way)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slapkit.core import files, serialised
from slapkit.core.partition_state import partition_salt
from slapkit.core.run_state import reset_run_state
from slapkit.instance.sources import SourceError, parse_instance_xml
from slapkit.runner import supervisor
from slapkit.runner.supervisor import Supervisor, discover_programs

# --- files ----------------------------------------------------------------------------


def test_write_if_changed_refuses_a_directory(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError):
        files.write_if_changed(str(tmp_path / "d"), b"x")


def test_write_if_changed_replaces_a_fifo_and_does_not_read_it(tmp_path):
    fifo = tmp_path / "f"
    os.mkfifo(fifo)  # opening it to read would block forever
    assert files.write_if_changed(str(fifo), b"x", 0o640)
    assert fifo.read_bytes() == b"x" and fifo.is_file()


def test_a_failed_replace_leaves_no_temporary(tmp_path):
    target = tmp_path / "d"
    (target / "inside").mkdir(parents=True)  # rename over a non-empty directory fails
    with pytest.raises(OSError):
        files.replace_atomically(str(target), b"x", 0o600)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_stale_temporaries_of_a_missing_directory_are_none(tmp_path):
    reset_run_state()
    assert files.remove_stale_temporaries(str(tmp_path / "no" / "file")) == []


def test_remove_file_says_whether_there_was_one(tmp_path):
    (tmp_path / "x").write_text("")
    assert files.remove_file(str(tmp_path / "x")) is True
    assert files.remove_file(str(tmp_path / "x")) is False


def test_default_file_mode_follows_the_interpreter():
    mask = files.current_umask()
    assert files.default_file_mode(b"#!/bin/sh\n") == 0o777 & ~mask
    assert files.default_file_mode(b"#! /bin/sh -e\n") == 0o777 & ~mask
    assert files.default_file_mode(b"#!/no/such\n") == 0o666 & ~mask
    assert files.default_file_mode(b"#!") == 0o666 & ~mask
    assert files.default_file_mode(b"plain") == 0o666 & ~mask


# --- the partition's salt: two runs make it at once -----------------------------------


def test_a_salt_linked_first_by_another_run_is_the_one_read(tmp_path, monkeypatch):
    reset_run_state()
    (tmp_path / ".slapkit").mkdir()
    theirs = b"f" * 64
    real_link = os.link

    def other_run_won(source, target):
        Path(target).write_bytes(theirs)  # the other run links its own first
        return real_link(source, target)

    monkeypatch.setattr(os, "link", other_run_won)
    assert partition_salt(str(tmp_path)) == theirs
    assert sorted(p.name for p in (tmp_path / ".slapkit").iterdir()) == ["salt"]


def test_a_salt_that_cannot_be_linked_is_an_error(tmp_path, monkeypatch):
    reset_run_state()
    (tmp_path / ".slapkit").mkdir()

    def refused(source, target):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", refused)
    with pytest.raises(OSError):
        partition_salt(str(tmp_path))
    assert list((tmp_path / ".slapkit").iterdir()) == []  # its temporary is gone


# --- instance XML ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("<instance><other/></instance>", "unexpected <other> in <instance>"),
        ("<instance><parameter>x</parameter></instance>", "unexpected <parameter> in"),
        ("<config/>", "the XML root is <config>, expected <instance>"),
        ("<instance>", "invalid XML"),
    ],
)
def test_instance_xml_errors(text, message):
    with pytest.raises(SourceError, match=message):
        parse_instance_xml(text)


# --- supervisord helpers ----------------------------------------------------------------


def test_a_value_supervisord_cannot_hold_is_refused():
    with pytest.raises(ValueError):
        supervisor._config_value("a\nb")
    assert supervisor._config_value("100%") == "100%%"


def test_alive_tells_running_dead_and_zombie_processes():
    assert supervisor._alive(os.getpid())
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while supervisor._alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # it exits, unwaited: a zombie, which counts as gone
    assert not supervisor._alive(child.pid)
    child.wait()
    assert not supervisor._alive(child.pid)


def test_signal_group_of_a_process_that_is_gone_is_quiet():
    child = subprocess.Popen(["true"])
    child.wait()
    supervisor._signal_group(child.pid, signal.SIGTERM)  # no error


def test_shutdown_never_kills_what_is_not_this_partitions_supervisord(tmp_path):
    # A pid file naming a live process that is no supervisord (a crashed
    # one's pid reused, or a planted file): shutdown leaves it alone.
    (tmp_path / ".slapkit").mkdir(mode=0o700)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        (tmp_path / ".slapkit" / "supervisord.pid").write_text(f"{sleeper.pid}\n")
        Supervisor(tmp_path).shutdown(timeout=0.3)
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_dot_directory_in_etc_service_is_passed_over_quietly(tmp_path):
    service = tmp_path / "etc" / "service"
    (service / ".hidden").mkdir(parents=True)
    program = service / "web"
    program.write_text("#!/bin/sh\nexec sleep 1\n")
    program.chmod(0o755)
    programs, skipped = discover_programs(tmp_path, "slappart0")
    assert [p.process_name for p in programs] == ["web-on-watch"]
    assert skipped == []


def test_a_long_partition_path_gets_a_short_socket(tmp_path):
    deep = tmp_path / ("d" * 100)
    socket = Supervisor(deep).socket
    assert len(str(socket)) < 100 and socket.name.startswith("slapkit-")


# --- JSON Schema corners ----------------------------------------------------------------


def schema_file(tmp_path, schema) -> str:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    return str(path)


def test_a_boolean_subschema_takes_no_default(tmp_path):
    from slapkit.instance.schema import ParameterSchema

    schema = ParameterSchema(
        schema_file(tmp_path, {"properties": {"free": True, "n": {"default": 1}}})
    )
    assert schema.complete({"free": "x"}) == {"free": "x", "n": 1}
    assert schema.errors({"free": "x", "n": 1}) == []


def test_a_true_schema_accepts_anything(tmp_path):
    from slapkit.instance.schema import ParameterSchema

    schema = ParameterSchema(schema_file(tmp_path, True))
    assert schema.complete({"a": "1"}) == {"a": "1"}
    assert schema.write_only_values({"a": "1"}) == []


def test_a_remote_ref_is_refused_and_a_sibling_file_is_read(tmp_path):
    from slapkit.instance.schema import ParameterSchema
    from slapkit.instance.schema_results import SchemaError

    (tmp_path / "common.json").write_text(
        json.dumps({"definitions": {"port": {"type": "integer", "default": 8080}}})
    )
    local = ParameterSchema(
        schema_file(tmp_path, {"properties": {"port": {"$ref": "common.json#/definitions/port"}}})
    )
    assert local.complete({}) == {"port": 8080}
    remote = ParameterSchema(
        schema_file(tmp_path, {"properties": {"p": {"$ref": "https://example.invalid/s.json"}}})
    )
    with pytest.raises(SchemaError, match="only local files are supported"):
        remote.complete({})


def test_a_pattern_that_is_no_regular_expression_is_a_schema_error(tmp_path):
    from slapkit.instance.schema import ParameterSchema
    from slapkit.instance.schema_results import SchemaError

    with pytest.raises(SchemaError, match="is not a 'regex'"):
        ParameterSchema(schema_file(tmp_path, {"patternProperties": {"(": {}}}))


# --- the command line -------------------------------------------------------------------


def test_the_runner_without_supervisor_says_what_to_install(monkeypatch, capsys, tmp_path):
    from slapkit.runner import cli

    monkeypatch.setitem(sys.modules, "supervisor", None)  # import supervisor fails
    assert cli.main(["status", str(tmp_path)]) == 2
    assert "install slapkit[runner]" in capsys.readouterr().err


def test_deploy_on_a_terminal_rewrites_one_progress_line(tmp_path):
    import pty

    profile = tmp_path / "instance.cfg"
    profile.write_text(
        "[buildout]\nparts = d\n[d]\nrecipe = slapkit:mkdirectory\netc = ${buildout:directory}/etc\n"
    )
    partition = tmp_path / "partition"
    main, secondary = pty.openpty()
    try:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("slapkit")),
                "deploy",
                str(profile),
                "--partition",
                str(partition),
            ],
            stdout=secondary,
            stderr=secondary,
            stdin=subprocess.DEVNULL,
        )
        os.close(secondary)
        output = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the terminal is closed once the process ends
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(timeout=120) == 0, output
    finally:
        os.close(main)
        Supervisor(partition).shutdown()
    text = output.decode()
    assert "\r\x1b[K[1] Installing d" in text  # progress on one line, rewritten
    assert "files        1 changed" in text


def test_a_supervisord_that_cannot_start_says_why(tmp_path):
    # Its log file is a directory: the real supervisord exits with an error.
    (tmp_path / ".slapkit" / "supervisord.log").mkdir(parents=True)
    with pytest.raises(RuntimeError, match="supervisord did not start: .*supervisord.log"):
        Supervisor(tmp_path).start(timeout=30)
    assert not Supervisor(tmp_path).is_running()


def test_holds_secret_finds_what_a_substring_search_finds():
    """The search by prefixes (many secrets, short texts) and the substring
    search (few secrets, long texts) agree with the plain definition."""
    import random

    from slapkit.core.run_state import reset_run_state
    from slapkit.core.secrets import holds_secret, register_secret

    rng = random.Random(7)
    alphabet = "abcAB01"
    for secrets_count in (1, 3, 40):
        reset_run_state()
        secrets = {
            "".join(rng.choices(alphabet, k=rng.randint(4, 9))) for _ in range(secrets_count)
        }
        for secret in secrets:
            register_secret(secret)
        for length in (0, 3, 5, 20, 400):
            for _ in range(60):
                text = "".join(rng.choices(alphabet, k=length))
                if rng.random() < 0.3 and secrets:
                    secret = rng.choice(sorted(secrets))
                    at = rng.randint(0, len(text))
                    text = text[:at] + secret + text[at:]
                assert holds_secret(text) == any(s in text for s in secrets), (text, secrets)
    reset_run_state()


# --- the zc.buildout extension ---------------------------------------------------------


@pytest.mark.parametrize(
    "recorded, sequence",
    [
        # zc.buildout's rotation: each updated part moved to the end.
        ("a b c", ["b a c", "a c b", "c b a", "b a c"]),
        ("a", ["a"]),
        # Names that contain one another.
        ("ab a b", ["ab b a", "b a ab", "b a", "a b ab ab", "b ab a"]),
        # Any order is found by the full comparison; other parts are not the same.
        ("a b c", ["c a b", "a b d", "a b", "a b c d", "b c a"]),
    ],
)
def test_same_parts_is_true_exactly_for_the_recorded_parts_in_any_order(recorded, sequence):
    from slapkit.extension import _Record, _same_parts

    record = _Record("", {"parts": recorded}, None)
    for parts in sequence:
        expected = sorted(parts.split()) == sorted(recorded.split())
        assert _same_parts(parts, record) is expected, parts


# --- options ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "brk", ["\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
)
def test_option_lines_are_split_at_buildouts_line_break_only(brk):
    from slapkit.core.options import PartOptions

    opts = PartOptions("p", {"environment": f"A=x{brk}LD_PRELOAD=/evil\n  B=y"})
    assert opts.lines("environment") == [f"A=x{brk}LD_PRELOAD=/evil", "B=y"]
    assert opts.assignments("environment") == [("A", f"x{brk}LD_PRELOAD=/evil"), ("B", "y")]


@pytest.mark.parametrize(
    "text, mode",
    [
        ("0", 0),
        ("2750", 0o2750),
        ("1777", 0o1777),
        ("0o4755", 0o4755),
        ("0O750", 0o750),
        ("7777", 0o7777),
        ("000750", 0o750),
    ],
)
def test_an_octal_mode_takes_the_whole_of_0o7777(text, mode):
    from slapkit.core.options import PartOptions

    assert PartOptions("p", {"mode": text}).mode() == mode


@pytest.mark.parametrize(
    "text",
    [
        "10000",
        "0o17777",
        "-1",
        "8",
        "0x9",
        "rw",
        "+750",
        "7_50",
        "0o",
        "0o-7",
        "\u0667\u0665\u0660",
    ],
)
def test_an_octal_mode_past_0o7777_is_refused(text):
    import zc.buildout

    from slapkit.core.options import PartOptions

    with pytest.raises(zc.buildout.UserError) as error:
        PartOptions("p", {"mode": text}).mode()
    assert str(error.value) == f"[p] mode: {text!r} is not an octal file mode"


@pytest.mark.parametrize("text", ["+5", "1_000", "\u0665", "5.0", "0x10", "", "1e3"])
def test_a_whole_number_is_ascii_digits_and_nothing_else(text):
    import zc.buildout

    from slapkit.core.options import PartOptions

    if not text:
        assert PartOptions("p", {"n": text}).integer("n", 7) == 7  # empty: the default
        return
    with pytest.raises(zc.buildout.UserError) as error:
        PartOptions("p", {"n": text}).integer("n", 7)
    assert str(error.value) == f"[p] n: {text!r} is not a whole number"


@pytest.mark.parametrize(
    "text, bounds, message",
    [
        ("0", (1, 9), "[p] n: 0 is less than 1"),
        ("10", (1, 9), "[p] n: 10 is more than 9"),
    ],
)
def test_a_whole_number_out_of_its_bounds_is_refused(text, bounds, message):
    import zc.buildout

    from slapkit.core.options import PartOptions

    with pytest.raises(zc.buildout.UserError) as error:
        PartOptions("p", {"n": text}).integer("n", 5, *bounds)
    assert str(error.value) == message
    assert PartOptions("p", {"n": str(bounds[0])}).integer("n", 5, *bounds) == bounds[0]
    assert PartOptions("p", {"n": str(bounds[1])}).integer("n", 5, *bounds) == bounds[1]


# --- serialised: SlapOS's fork's !py! values, written and read back -------------------

_LITERALS = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        | st.tuples(inner, inner)
    ),
    max_leaves=20,
)


def _as_buildout_reads(text: str) -> str:
    """What a recipe reads: zc.buildout keeps $$ as it is, substitutes ${…}."""
    assert "\n" not in text and "\r" not in text, text
    assert "${" not in text.replace("$$", ""), text
    return text


@settings(deadline=None)
@given(_LITERALS)
def test_dumps_then_loads_gives_the_value_back_and_stays_on_one_line(value):
    reset_run_state()
    text = _as_buildout_reads(serialised.dumps(value))
    if serialised.is_serialised(text, "section", "option"):
        assert serialised.loads(text) == value
    else:
        assert text == value  # a plain string, as any recipe reads it


@pytest.mark.parametrize(
    "text",
    [
        "!py!__import__('os').system('true')",
        "!py!" + "[" * 5000,
        "!py!" + "9" * 5000,
        "!py!{1: 2} if True else 0",
        "!py!frozenset()",
        "!py!",
    ],
)
def test_loads_reads_literals_only(text):
    with pytest.raises(serialised.NotALiteral):
        serialised.loads(text)


def test_dumps_refuses_what_has_no_literal():
    for value in (float("inf"), float("nan"), object(), frozenset({1}), _deep(200)):
        with pytest.raises(serialised.NotSerialisable):
            serialised.dumps(value)


def _deep(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value
