"""Error paths and rarer branches, through real buildout runs.

Faults the test machine cannot make for real (it runs as root, which no
permission stops) are made in the forked buildout only, by a setup hook.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from buildout_harness import snapshot


def error_in(result, expected: str) -> None:
    assert result.returncode == 1, result.output
    assert "Traceback" not in result.output, result.output
    assert f"Error: {expected}" in result.output, result.output


def template(buildout, **options: str) -> str:
    options.setdefault("output", str(buildout.path("out")))
    lines = "".join(f"{key} = {value}\n" for key, value in options.items())
    return f"[buildout]\nparts = t\n[t]\nrecipe = slapkit:jinja2\n{lines}"


# --- files --------------------------------------------------------------------------


def test_a_mode_only_change_keeps_the_file_and_changes_its_mode(buildout):
    buildout.run(template(buildout, inline="same", mode="0640")).check()
    out = buildout.path("out")
    before = out.stat()
    result = buildout.run(template(buildout, inline="same", mode="0600")).check()
    after = out.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert stat.S_IMODE(after.st_mode) == 0o600
    assert f"t: updated {out}" in result.output


def test_a_file_url_template_is_read(buildout, tmp_path):
    source = tmp_path / "t.in"
    source.write_text("from {{ 'file' }} url")
    buildout.run(template(buildout, url=f"file://{source}")).check()
    assert buildout.path("out").read_text() == "from file url"


def test_a_remote_url_template_is_refused(buildout):
    error_in(
        buildout.run(template(buildout, url="https://example.invalid/t.in")),
        "[t] url: 'https://example.invalid/t.in': only local files are supported",
    )


def test_a_section_context_serves_concealed_secrets(buildout):
    buildout.run(f"""
[buildout]
parts = t
[pw]
recipe = slapkit:generate.password
[t]
recipe = slapkit:jinja2
output = {buildout.path("out")}
context = section pw pw
inline = {{{{ pw['passwd'] }}}} {{{{ pw['storage-path'] }}}}
""").check()
    password = buildout.path("parts", "pw").read_text()
    assert buildout.path("out").read_text() == f"{password} {buildout.path('parts', 'pw')}"


# --- mkdirectory -----------------------------------------------------------------------


def fail_mkdir(code: int, under: Path):
    """In the forked buildout: mkdir fails under ``under`` (root ignores modes)."""

    def setup():
        real_mkdir = os.mkdir

        def mkdir(path, mode=0o777, **kwargs):
            if str(path).startswith(str(under)):
                raise OSError(code, os.strerror(code), path)
            return real_mkdir(path, mode, **kwargs)

        os.mkdir = mkdir

    return setup


def test_a_directory_that_cannot_be_made_is_a_user_error(buildout):
    buildout.write(
        f"[buildout]\nparts = d\n[d]\nrecipe = slapkit:mkdirectory\n"
        f"data = {buildout.path('srv', 'data')}\n"
    )
    result = buildout.run_with(fail_mkdir(errno.EACCES, buildout.path("srv")))
    error_in(result, f"[d] data: cannot create '{buildout.path('srv')}': Permission denied")
    assert not buildout.path("srv").exists()


def test_a_file_in_the_way_of_a_directory_is_a_user_error(buildout):
    buildout.path("srv").write_text("a file")
    profile = "[buildout]\nparts = d\n[d]\nrecipe = slapkit:mkdirectory\n"
    error_in(
        buildout.run(profile + f"data = {buildout.path('srv')}\n"),
        f"[d] data: '{buildout.path('srv')}' exists and is not a directory",
    )
    error_in(
        buildout.run(profile + f"data = {buildout.path('srv', 'data')}\n"),
        f"[d] data: cannot create '{buildout.path('srv', 'data')}': "
        f"'{buildout.path('srv')}' is not a directory",
    )


# --- generate.password -----------------------------------------------------------------

HASH_PROFILE = """
[buildout]
parts = t
[pw]
recipe = slapkit:generate.password
[t]
recipe = slapkit:jinja2
output = {out}
context = key h pw:passwd-{scheme}
inline = {{{{ h }}}}
"""


def test_without_the_hashing_library_a_hash_is_a_user_error(buildout):
    def setup():
        sys.modules["passlib"] = None  # as if libpass were not installed
        sys.modules["passlib.hash"] = None

    buildout.write(HASH_PROFILE.format(out=buildout.path("out"), scheme="sha256-crypt"))
    error_in(
        buildout.run_with(setup),
        "[pw] passwd-sha256-crypt: password hashes need libpass (install slapkit[hashes])",
    )


def test_a_hashing_backend_that_fails_is_a_user_error(buildout):
    def setup():
        import passlib.exc
        import passlib.hash

        def missing(secret):
            raise passlib.exc.MissingBackendError("bcrypt: no backends available")

        passlib.hash.bcrypt.hash = missing

    buildout.write(HASH_PROFILE.format(out=buildout.path("out"), scheme="bcrypt"))
    error_in(buildout.run_with(setup), "[pw] passwd-bcrypt: cannot hash with 'bcrypt': ")


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps({"salt": 7, "for": "x", "hashes": {}}),
        json.dumps(["a", "list"]),
    ],
)
def test_an_unusable_hashes_file_is_made_again(buildout, content):
    buildout.run(HASH_PROFILE.format(out=buildout.path("out"), scheme="sha256-crypt")).check()
    buildout.path("parts", "pw.hashes").write_text(content)
    buildout.run().check()
    hashes = json.loads(buildout.path("parts", "pw.hashes").read_text())
    assert hashes["hashes"]["sha256-crypt"] == buildout.path("out").read_text()


def test_a_hashes_file_whose_hashes_are_not_an_object_is_made_again(buildout):
    buildout.run(HASH_PROFILE.format(out=buildout.path("out"), scheme="sha256-crypt")).check()
    path = buildout.path("parts", "pw.hashes")
    data = json.loads(path.read_text())
    data["hashes"] = ["not", "an", "object"]
    path.write_text(json.dumps(data))
    buildout.run().check()
    assert buildout.path("out").read_text().startswith("$5$")


def test_a_hash_that_cannot_be_stored_is_a_user_error(buildout):
    buildout.path("parts").mkdir()
    buildout.path("parts", "pw.hashes").mkdir()  # in the way
    buildout.path("parts", "pw").write_text("kept-password")
    error_in(
        buildout.run(HASH_PROFILE.format(out=buildout.path("out"), scheme="sha256-crypt")),
        "[pw] passwd-sha256-crypt: cannot store the hash: Is a directory",
    )


# --- a damaged salt -------------------------------------------------------------------


def test_a_damaged_partition_salt_is_a_user_error(buildout, tmp_path):
    config = tmp_path / "conf"
    config.write_text("x")
    buildout.path(".slapkit").mkdir()
    buildout.path(".slapkit", "salt").write_text("short")
    error_in(
        buildout.run(
            f"[buildout]\nparts = w\n[w]\nrecipe = slapkit:wrapper\ncommand-line = /bin/true\n"
            f"wrapper-path = {buildout.path('w')}\nhash-files = {config}\n"
        ),
        "[w] hash-files: cannot keep the partition's salt: the partition's salt is damaged",
    )


# --- JSON Schema ---------------------------------------------------------------------------

CONVERSIONS = {
    "type": "object",
    "properties": {
        "count": {"type": "integer"},
        "ratio": {"type": "number"},
        "whole": {"type": "number"},
        "flag": {"type": "boolean"},
        "settings": {"type": "object", "properties": {"depth": {"type": "integer", "default": 3}}},
        "hosts": {"type": "array"},
        "nothing": {"type": "null"},
        "either": {"type": ["integer", "boolean"]},
        "text": {"type": "string"},
        "bad": {"type": "integer"},
    },
}


@pytest.mark.parametrize(
    "draft",
    [
        "http://json-schema.org/draft-07/schema#",
        "https://json-schema.org/draft/2020-12/schema",
    ],
)
def test_every_schema_conversion(buildout, draft):
    schema = buildout.path("schema.json")
    schema.write_text(json.dumps({"$schema": draft, **CONVERSIONS}))
    params = buildout.path("params.json")
    params.write_text(
        json.dumps(
            {
                "count": " 42 ",
                "ratio": "0.5",
                "whole": "7",
                "flag": "TRUE",
                "settings": '{"name": "x"}',
                "hosts": '["a", "b"]',
                "nothing": "null",
                "either": "false",
                "text": "42",
            }
        )
    )
    buildout.run(f"""
[buildout]
parts = t
[p]
recipe = slapkit:parameters
parameters-file = {params}
schema = {schema}
[t]
recipe = slapkit:jinja2
output = {buildout.path("out")}
context = jsonkey all p:parameters-json
inline = {{{{ all | tojson }}}}
""").check()
    assert json.loads(buildout.path("out").read_text()) == {
        "count": 42,
        "ratio": 0.5,
        "whole": 7,
        "flag": True,
        "settings": {"name": "x", "depth": 3},
        "hosts": ["a", "b"],
        "nothing": None,
        "either": False,
        "text": "42",
    }


def test_a_value_that_does_not_convert_stays_and_fails_validation(buildout):
    schema = buildout.path("schema.json")
    schema.write_text(json.dumps(CONVERSIONS))
    params = buildout.path("params.json")
    params.write_text(json.dumps({"bad": "4x", "ratio": "half", "hosts": "[1,", "settings": "[]"}))
    result = buildout.run(
        f"[buildout]\nparts = p\n[p]\nrecipe = slapkit:parameters\n"
        f"parameters-file = {params}\nschema = {schema}\n"
    )
    error_in(result, "[p] schema: 4 parameter errors:")
    assert "bad: '4x' is not of type 'integer'" in result.output
    assert "ratio: 'half' is not of type 'number'" in result.output


@pytest.mark.parametrize(
    "content, expected",
    [
        ("{not json", "is not JSON"),
        ('{"type": 12}', "is not a valid JSON Schema"),
    ],
)
def test_a_broken_schema_is_a_user_error(buildout, content, expected):
    schema = buildout.path("schema.json")
    schema.write_text(content)
    result = buildout.run(
        f"[buildout]\nparts = p\n[p]\nrecipe = slapkit:parameters\nschema = {schema}\n"
    )
    error_in(result, "[p] schema: ")
    assert expected in result.output


def test_write_only_through_pattern_and_additional_properties(buildout):
    schema = buildout.path("schema.json")
    schema.write_text(
        json.dumps(
            {
                "type": "object",
                "patternProperties": {"^token-": {"type": "string", "writeOnly": True}},
                "additionalProperties": {
                    "type": "object",
                    "properties": {"key": {"type": "string", "writeOnly": True}},
                },
                "properties": {
                    "pair": {
                        "type": "array",
                        "prefixItems": [{"type": "string"}, {"type": "string", "writeOnly": True}],
                    }
                },
                "$schema": "https://json-schema.org/draft/2020-12/schema",
            }
        )
    )
    params = buildout.path("params.json")
    params.write_text(
        json.dumps(
            {
                "token-a": "secret-token-value",
                "other": {"key": "secret-key-value"},
                "pair": ["visible-part", "secret-pair-value"],
            }
        )
    )
    result = buildout.run(
        f"[buildout]\nparts = p\n[p]\nrecipe = slapkit:parameters\n"
        f"parameters-file = {params}\nschema = {schema}\n",
        "-vv",
    ).check()
    installed = buildout.path(".installed.cfg").read_text()
    for secret in ("secret-token-value", "secret-key-value", "secret-pair-value"):
        assert secret not in installed and secret not in result.output


# --- runner --------------------------------------------------------------------------------


def test_a_promise_that_runs_too_long_is_failing(tmp_path, monkeypatch):
    from slapkit.runner import promises

    slow = tmp_path / "etc" / "promise" / "slow"
    slow.parent.mkdir(parents=True)
    slow.write_text("#!/bin/sh\nsleep 5\n")
    slow.chmod(0o755)
    monkeypatch.setattr(promises, "ONE_RUN_TIMEOUT", 0.3)
    (result,) = promises.run_promises(tmp_path)
    assert (result.name, result.kept, result.message) == ("slow", False, "timed out after 0s")


def test_a_promise_that_cannot_run_is_failing(tmp_path):
    from slapkit.runner import promises

    broken = tmp_path / "etc" / "promise" / "broken"
    broken.parent.mkdir(parents=True)
    broken.write_text("#!/nonexistent/interpreter\n")
    broken.chmod(0o755)
    (result,) = promises.run_promises(tmp_path)
    assert not result.kept and result.message.startswith("cannot run: ")


def test_an_unreadable_profile_is_one_line(tmp_path):
    from test_runner import slapkit

    result = slapkit("deploy", tmp_path, "--partition", tmp_path / "p", check=False)
    assert result.returncode == 2
    assert result.stderr.startswith(f"slapkit: cannot read the profile {tmp_path}: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_status_and_stop_of_a_partition_not_running(tmp_path):
    from test_runner import slapkit

    (tmp_path / ".slapkit").mkdir(mode=0o700)  # deployed once, its supervisord gone
    status = slapkit("status", tmp_path, check=False)
    assert (status.returncode, status.stdout.strip()) == (3, f"{tmp_path}: not running")
    stop = slapkit("stop", tmp_path)
    assert stop.stdout.strip() == f"{tmp_path}: not running"


def test_nothing_on_disk_changes_when_validation_fails(buildout):
    """Rule 4, across recipes: a run stopped by a bad option writes nothing."""
    buildout.run(template(buildout, inline="one")).check()
    bad = template(buildout, inline="two") + "mode = 0x9\n"
    buildout.write(bad)
    before = snapshot(buildout.directory)
    error_in(buildout.run(), "[t] mode: '0x9' is not an octal file mode")
    assert snapshot(buildout.directory) == before
    assert Path(buildout.path("out")).read_text() == "one"


# --- the master --------------------------------------------------------------------------

MASTER_PROFILE = """
[buildout]
parts = p
[slap-connection]
server-url = http://127.0.0.1:9/
computer-id = {computer}
partition-id = slappart0
[p]
recipe = slapkit:parameters
"""


def test_a_connection_section_that_lacks_ids_is_a_user_error(buildout):
    error_in(
        buildout.run(MASTER_PROFILE.format(computer="")),
        "[p] connection-section: the connection section lacks computer-id",
    )


def test_a_master_without_slapos_core_is_a_user_error(buildout):
    def setup():
        sys.modules["slapos"] = None  # as if slapos.core were not installed

    buildout.write(MASTER_PROFILE.format(computer="COMP-1"))
    error_in(
        buildout.run_with(setup),
        "[p] connection-section: slapos.core is needed to speak to the master at "
        "'http://127.0.0.1:9/' (install slapkit[master])",
    )


def raced_mkdir(under: Path, kind: str):
    """In the forked buildout: another run makes ``under`` (a directory or
    a file) just before this one's mkdir."""

    def setup():
        real_mkdir = os.mkdir

        def mkdir(path, mode=0o777, **kwargs):
            if str(path) == str(under):
                if kind == "directory":
                    real_mkdir(path)
                else:
                    Path(path).write_text("a file")
                raise FileExistsError(errno.EEXIST, "File exists", path)
            return real_mkdir(path, mode, **kwargs)

        os.mkdir = mkdir

    return setup


def test_a_directory_made_meanwhile_by_another_run_is_fine(buildout):
    buildout.write(
        f"[buildout]\nparts = d\n[d]\nrecipe = slapkit:mkdirectory\ndata = {buildout.path('srv')}\n"
    )
    buildout.run_with(raced_mkdir(buildout.path("srv"), "directory")).check()
    assert buildout.path("srv").is_dir()


def test_a_file_made_meanwhile_where_a_directory_goes_is_a_user_error(buildout):
    buildout.write(
        f"[buildout]\nparts = d\n[d]\nrecipe = slapkit:mkdirectory\ndata = {buildout.path('srv')}\n"
    )
    result = buildout.run_with(raced_mkdir(buildout.path("srv"), "file"))
    error_in(result, f"[d] data: '{buildout.path('srv')}' exists and is not a directory")


# --- publish -------------------------------------------------------------------------------


def test_a_local_connection_record_slapkit_did_not_write_is_replaced(buildout):
    # Not JSON, or JSON slapkit did not write (no seal): not the partition's
    # published values, so nothing of it is kept or shown.
    buildout.path(".slapkit").mkdir()
    record = buildout.path(".slapkit", "connection.json")
    record.write_bytes(b"\xff not json")
    buildout.run("[buildout]\nparts = pub\n[pub]\nrecipe = slapkit:publish\nurl = x\n").check()
    assert json.loads(record.read_text()) == {"url": "x"}


def test_a_master_publication_whose_record_cannot_be_kept_is_a_user_error(buildout, slapos_master):
    partition = slapos_master.request("web", {})
    buildout.path(".slapkit", "published-pub").mkdir(parents=True)  # in the way
    text = (
        "[buildout]\nparts = pub\n[pub]\nrecipe = slapkit:publish\nurl = x\n"
        + slapos_master.connection_section(partition.getId())
    )
    error_in(
        buildout.run(text),
        f"[pub] connection-section: published to '{slapos_master.url}', but cannot keep the record",
    )
    assert slapos_master.request("web", {}).getConnectionParameterDict() == {"url": "x"}


# --- parameters -------------------------------------------------------------------------------


def test_a_schema_without_jsonschema_installed_is_a_user_error(buildout):
    def setup():
        sys.modules["jsonschema"] = None  # as if slapkit[schema] were not installed
        sys.modules.pop("slapkit.instance.schema", None)  # imported by an earlier test

    schema = buildout.path("schema.json")
    schema.write_text("{}")
    buildout.write(f"[buildout]\nparts = p\n[p]\nrecipe = slapkit:parameters\nschema = {schema}\n")
    error_in(
        buildout.run_with(setup),
        "[p] schema: JSON Schema validation needs jsonschema (install slapkit[schema])",
    )


def test_slapconfiguration_jsonschema_without_jsonschema_installed_is_a_user_error(buildout):
    def setup():
        sys.modules["jsonschema"] = None  # as if slapkit[schema] were not installed
        sys.modules.pop("slapkit.instance.schema", None)

    (buildout.directory / "software.cfg.json").write_text(
        json.dumps(
            {
                "serialisation": "xml",
                "software-type": {"default": {"software-type": "default", "request": "i.json"}},
            }
        )
    )
    (buildout.directory / "i.json").write_text("{}")
    answer = buildout.path("instance.json")
    answer.write_text(json.dumps({"parameter-dict": {"slap_software_type": "default"}}))
    buildout.write(
        f"[buildout]\nparts = p\n[p]\nrecipe = slapkit:slapconfiguration.jsonschema\n"
        f"instance-file = {answer}\njsonschema = {buildout.path('software.cfg.json')}\n"
    )
    error_in(
        buildout.run_with(setup),
        "[p] jsonschema: JSON Schema validation needs jsonschema (install slapkit[schema])",
    )


def test_a_write_only_object_hides_every_value_in_it(buildout):
    schema = buildout.path("schema.json")
    schema.write_text(json.dumps({"properties": {"db": {"type": "object", "writeOnly": True}}}))
    params = buildout.path("params.json")
    params.write_text(
        json.dumps(
            {
                "db": {
                    "user": "db-user-name",
                    "port": 5432,
                    "tls": True,
                    "hosts": ["host-one-secret"],
                }
            }
        )
    )
    result = buildout.run(
        f"[buildout]\nparts = p\n[p]\nrecipe = slapkit:parameters\n"
        f"parameters-file = {params}\nschema = {schema}\n",
        "-vv",
    ).check()
    installed = buildout.path(".installed.cfg").read_text()
    for secret in ("db-user-name", "5432", "host-one-secret"):
        assert secret not in installed and secret not in result.output


def test_a_hash_file_that_is_a_directory_is_a_user_error(buildout, tmp_path):
    unreadable = tmp_path / "a-directory"
    unreadable.mkdir()
    error_in(
        buildout.run(
            f"[buildout]\nparts = w\n[w]\nrecipe = slapkit:wrapper\ncommand-line = /bin/true\n"
            f"wrapper-path = {buildout.path('w')}\nhash-existing-files = {unreadable}\n"
        ),
        f"[w] hash-existing-files: '{unreadable}' is not a file",
    )


def test_a_misspelled_option_is_reported_whatever_its_value(buildout):
    """zc.buildout reports options no recipe read; slapkit's scans of every
    ${…} value (for secrets, for long values) must not count as reading, and
    a concealed one (it quotes a password) is reported too."""
    text = f"""
[buildout]
parts = wrapper

[pw]
recipe = slapkit:generate.password

[config]
recipe = slapkit:jinja2
output = {buildout.path("config")}
inline = port 8080
port = 8080

[wrapper]
recipe = slapkit:wrapper
command-line = /bin/true
wrapper-path = {buildout.path("run")}
environment = GOOD=${{config:port}}
environement = PORT=${{config:port}}
hash-file = ${{config:output}}
environemnt = PASSWORD=${{pw:passwd}}
"""
    result = buildout.run(text).check()
    assert (
        "Section `wrapper` contains unused option(s): "
        "'environement' 'environemnt' 'hash-file'." in result.output
    ), result.output
    password = buildout.path("parts", "pw").read_text()
    assert password not in result.output
    assert password not in buildout.path(".installed.cfg").read_text()
    # Read by the recipe, secret or not: not reported.
    misspelled = text[text.index("environement") :]
    right = text.replace(
        misspelled,
        "  PORT=${config:port}\n  PASSWORD=${pw:passwd}\nhash-files = ${config:output}\n",
    )
    result = buildout.run(right).check()
    assert "unused option" not in result.output, result.output
