import json
import os

import pytest

from buildout_harness import keep_json, read_kept_json, snapshot

KVM_DEFAULTS = """
[slap-parameter]
recipe = slapkit:parameters
ram-size = 1024
second-disk-location =
{extra}

[config]
recipe = slapkit:jinja2
output = {output}
inline =
  ram={{{{ ram }}}} disk=[{{{{ disk }}}}] all={{{{ all | tojson }}}}
context =
  key ram slap-parameter:ram-size
  key disk slap-parameter:configuration.second-disk-location
  jsonkey all slap-parameter:parameters-json
"""


def kvm(buildout, parameters=None, extra="", fmt="json"):
    text = "[buildout]\nparts = config\n" + KVM_DEFAULTS.format(
        output=buildout.path("config"), extra=extra
    )
    if parameters is not None:
        path = buildout.path("parameters." + fmt)
        path.write_text(json.dumps(parameters) if fmt == "json" else parameters)
        text = text.replace(
            "recipe = slapkit:parameters", f"recipe = slapkit:parameters\nparameters-file = {path}"
        )
    return text


def rendered(buildout):
    line = buildout.path("config").read_text()
    head, _, everything = line.partition(" all=")
    return head, json.loads(everything)


def test_defaults_make_the_instance_work_without_parameters(buildout):
    buildout.run(kvm(buildout)).check()
    head, everything = rendered(buildout)
    assert head == "ram=1024 disk=[]"
    assert everything == {"ram-size": "1024", "second-disk-location": ""}


def test_user_value_wins(buildout):
    buildout.run(kvm(buildout, {"ram-size": "4096", "second-disk-location": "/dev/sdb"})).check()
    assert rendered(buildout)[0] == "ram=4096 disk=[/dev/sdb]"


@pytest.mark.parametrize("empty", ["", None])
def test_empty_or_null_user_value_counts_as_absent(buildout, empty):
    buildout.run(kvm(buildout, {"ram-size": empty, "second-disk-location": empty})).check()
    assert rendered(buildout)[0] == "ram=1024 disk=[]"


def test_unknown_parameters_are_kept(buildout):
    buildout.run(kvm(buildout, {"cpu-count": 4, "tags": ["a"], "nested": {"k": True}})).check()
    everything = rendered(buildout)[1]
    assert everything["cpu-count"] == 4 and everything["tags"] == ["a"]


def test_outputs_render_numbers_booleans_and_objects_as_json(buildout):
    text = (
        kvm(buildout, {"cpu-count": 4, "enabled": False, "nested": {"k": [1]}})
        + """
[show]
recipe = slapkit:jinja2
output = {out}
inline = {{{{ a }}}}|{{{{ b }}}}|{{{{ c }}}}|{{{{ d }}}}
context =
  key a slap-parameter:cpu-count
  key b slap-parameter:enabled
  key c slap-parameter:nested
  key d slap-parameter:configuration.ram-size
""".format(out=buildout.path("show"))
    )
    buildout.run(text.replace("parts = config", "parts = config show")).check()
    assert buildout.path("show").read_text() == '4|false|{"k": [1]}|1024'


def test_slapos_instance_xml(buildout):
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>\n<instance>\n'
        '  <parameter id="ram-size">2048</parameter>\n'
        '  <parameter id="second-disk-location"/>\n</instance>\n'
    )
    buildout.run(kvm(buildout, xml, fmt="xml")).check()
    assert rendered(buildout)[0] == "ram=2048 disk=[]"


def test_serialised_underscore_form(buildout):
    serialised = {"_": json.dumps({"ram-size": 8192, "second-disk-location": "/srv/disk"})}
    buildout.run(kvm(buildout, serialised)).check()
    head, everything = rendered(buildout)
    assert head == "ram=8192 disk=[/srv/disk]"
    assert everything["ram-size"] == 8192 and "_" not in everything


def test_underscore_form_in_xml(buildout):
    xml = '<instance><parameter id="_">{"ram-size": "512"}</parameter></instance>'
    buildout.run(kvm(buildout, xml, fmt="xml")).check()
    assert rendered(buildout)[0] == "ram=512 disk=[]"


def test_parameters_from_the_connection_section_file(buildout):
    params = buildout.path("runner-parameters.json")
    params.write_text(json.dumps({"ram-size": "3072"}))
    text = kvm(buildout) + f"\n[slap-connection]\nparameters-file = {params}\n"
    buildout.run(text).check()
    assert rendered(buildout)[0] == "ram=3072 disk=[]"


INJECTIONS = ["${buildout:directory}", "a$$b", "line1\nline2", "{{ 7 * 7 }}", "$(id)", "; rm -rf /"]


def test_values_are_data_never_buildout_or_template_syntax(buildout):
    buildout.run(kvm(buildout, {f"p{i}": v for i, v in enumerate(INJECTIONS)})).check()
    everything = rendered(buildout)[1]
    assert [everything[f"p{i}"] for i in range(len(INJECTIONS))] == INJECTIONS


def test_unchanged_parameters_change_nothing_and_changed_ones_rerun_dependents(buildout):
    text = kvm(buildout, {"ram-size": "2048"})
    buildout.run(text).check()
    before = snapshot(buildout.directory)
    second = buildout.run().check()
    assert snapshot(buildout.directory) == before
    assert "Installing" not in second.output
    buildout.path("parameters.json").write_text(json.dumps({"ram-size": "4096"}))
    third = buildout.run().check()
    assert "Installing slap-parameter." in third.output
    assert rendered(buildout)[0] == "ram=4096 disk=[]"


SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "ram-size": {"type": "integer", "minimum": 512, "default": 1024},
        "enable-ipv6": {"type": "boolean", "default": False},
        "disk": {"$ref": "definitions.json#/definitions/disk"},
        "admin-password": {"type": "string", "minLength": 12, "writeOnly": True},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}
DEFINITIONS = {"definitions": {"disk": {"type": "integer", "maximum": 100, "default": 10}}}


@pytest.fixture
def schema(buildout):
    path = buildout.path("instance-input-schema.json")
    path.write_text(json.dumps(SCHEMA))
    buildout.path("definitions.json").write_text(json.dumps(DEFINITIONS))
    return path


def schema_profile(buildout, schema, parameters):
    params = buildout.path("parameters.json")
    params.write_text(json.dumps(parameters))
    return f"""
[buildout]
parts = config

[slap-parameter]
recipe = slapkit:parameters
parameters-file = {params}
schema = {schema}

[config]
recipe = slapkit:jinja2
output = {buildout.path("config")}
inline = {{{{ all | tojson }}}}
context = jsonkey all slap-parameter:parameters-json
"""


def test_schema_defaults_and_string_conversion(buildout, schema):
    buildout.run(
        schema_profile(
            buildout, schema, {"ram-size": "2048", "enable-ipv6": "true", "tags": '["x"]'}
        )
    ).check()
    assert json.loads(buildout.path("config").read_text()) == {
        "ram-size": 2048,
        "enable-ipv6": True,
        "disk": 10,
        "tags": ["x"],
    }


def test_schema_reports_every_violation_in_one_error_and_hides_write_only_values(buildout, schema):
    result = buildout.run(
        schema_profile(
            buildout,
            schema,
            {
                "ram-size": "12",
                "disk": 500,
                "admin-password": "tiny-Secret",
                "colour": "blue",
                "enable-ipv6": "perhaps",
            },
        )
    )
    assert result.returncode != 0
    assert "Error: [slap-parameter] schema: 5 parameter errors:" in result.output
    for expected in [
        "ram-size: 12 is less than the minimum of 512 ('minimum')",
        "disk: 500 is greater than the maximum of 100 ('maximum')",
        "enable-ipv6: 'perhaps' is not of type 'boolean' ('type')",
        "(parameters): Additional properties are not allowed ('colour' was unexpected) ('additionalProperties')",
        "admin-password: the value (hidden: writeOnly) fails 'minLength'",
    ]:
        assert expected in result.output
    assert "tiny-Secret" not in result.output
    assert not buildout.path("config").exists()


def test_write_only_parameters_never_reach_installed_cfg(buildout, schema):
    result = buildout.run(
        schema_profile(buildout, schema, {"admin-password": "a-long-enough-Secret"}), "-vv"
    ).check()
    assert (
        json.loads(buildout.path("config").read_text())["admin-password"] == "a-long-enough-Secret"
    )
    assert "a-long-enough-Secret" not in buildout.path(".installed.cfg").read_text()
    assert "a-long-enough-Secret" not in result.output


RECURSIVE_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"tree": {"$ref": "#/definitions/node"}},
    "definitions": {
        # Each level costs a walk through allOf and $ref before its properties.
        "node": {"allOf": [{"allOf": [{"$ref": "#/definitions/node-fields"}]}]},
        "node-fields": {
            "type": "object",
            "properties": {
                "token": {"type": "string", "writeOnly": True},
                "child": {"$ref": "#/definitions/node"},
            },
        },
    },
}


def nested(levels, token):
    tree = {"token": token}
    for _ in range(levels):
        tree = {"child": tree}
    return {"tree": tree}


def test_a_write_only_value_at_any_depth_is_never_written_or_printed(buildout):
    path = buildout.path("recursive.json")
    path.write_text(json.dumps(RECURSIVE_SCHEMA))
    for levels in (1, 40, 60):
        token = f"deep-secret-token-{levels}"
        result = buildout.run(schema_profile(buildout, path, nested(levels, token)), "-vv").check()
        assert token in buildout.path("config").read_text()
        assert token not in buildout.path(".installed.cfg").read_text(), levels
        assert token not in result.output, levels
    # Past the depth parameters may have, the whole input is refused.
    result = buildout.run(schema_profile(buildout, path, nested(70, "too-deep-token")), "-vv")
    assert not result.ok
    assert "nest deeper than 64 levels" in result.output
    assert "too-deep-token" not in result.output
    assert "Traceback" not in result.output


def test_a_long_multi_line_value_is_served_not_saved(buildout):
    """zc.buildout's parser costs the square of a value's line count each
    time it reads .installed.cfg back: a value of 400,000 lines took minutes
    every run. It reaches templates and wrappers whole, and .installed.cfg
    and -vv never hold it."""
    value = "\n".join(f"line {i}" for i in range(400_000))
    params = buildout.path("parameters.json")
    params.write_text(json.dumps({"big": value, "small": "a\nb"}))
    text = f"""
[buildout]
parts = config wrapper

[slap-parameter]
recipe = slapkit:parameters
parameters-file = {params}
big =
small =

[config]
recipe = slapkit:jinja2
output = {buildout.path("config")}
inline = {{{{ big | length }}}} {{{{ small | length }}}}
context =
  key big slap-parameter:big
  key small slap-parameter:small

[wrapper]
recipe = slapkit:wrapper
command-line = /bin/echo ${{slap-parameter:big}}
wrapper-path = {buildout.path("echo")}
"""
    result = buildout.run(text, "-vv").check()
    assert buildout.path("config").read_text() == f"{len(value)} 3"
    assert "'line' '399999'" in buildout.path("echo").read_text()
    installed = buildout.path(".installed.cfg").read_text()
    assert "line 1\n" not in installed and "line 1\n" not in result.output
    assert "small = a\n\tb" in installed  # short ones are saved as ever
    before = snapshot(buildout.directory)
    buildout.run().check()
    assert snapshot(buildout.directory) == before


WRITE_ONLY_ELSEWHERE = {
    "dependencies": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"user": {"type": "string"}},
        "dependencies": {"user": {"properties": {"pass": {"type": "string", "writeOnly": True}}}},
    },
    "dependentSchemas": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"user": {"type": "string"}},
        "dependentSchemas": {
            "user": {"properties": {"pass": {"type": "string", "writeOnly": True}}}
        },
    },
    "$ref with siblings": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"base": {"type": "object"}},
        "$ref": "#/$defs/base",
        "properties": {"pass": {"type": "string", "writeOnly": True}},
    },
}


@pytest.mark.parametrize("kind", sorted(WRITE_ONLY_ELSEWHERE))
def test_a_write_only_value_brought_in_by_any_keyword_stays_secret(buildout, kind):
    path = buildout.path("schema.json")
    path.write_text(json.dumps(WRITE_ONLY_ELSEWHERE[kind]))
    secret = "hunter2-TOPSECRET"
    result = buildout.run(
        schema_profile(buildout, path, {"user": "bob", "pass": secret}), "-vv"
    ).check()
    assert secret in buildout.path("config").read_text()
    assert oct(buildout.path("config").stat().st_mode & 0o777) == "0o600"
    assert secret not in buildout.path(".installed.cfg").read_text()
    assert secret not in result.output


def test_schema_checks_are_kept_between_runs(buildout, schema):
    """As slapconfiguration.jsonschema: an unchanged rerun uses the kept
    check (0600, beside the part's name); a schema file changed behind a
    $ref is checked anew."""
    text = schema_profile(buildout, schema, {"ram-size": "2048"})
    buildout.run(text).check()
    kept = buildout.path(".slapkit/schema/slap-parameter.json")
    assert os.stat(kept).st_mode & 0o777 == 0o600
    before = snapshot(buildout.path(".slapkit"))
    buildout.run(text).check()
    assert snapshot(buildout.path(".slapkit")) == before
    data = read_kept_json(kept)
    (entry,) = data["entries"].values()
    entry["completed"]["disk"] = 42  # kept as slapkit would: the rerun must use it
    keep_json(kept, data)
    buildout.run(text).check()
    assert json.loads(buildout.path("config").read_text())["disk"] == 42
    buildout.path("definitions.json").write_text(
        json.dumps({"definitions": {"disk": {"type": "integer", "default": 20}}})
    )
    buildout.run(text).check()
    assert json.loads(buildout.path("config").read_text())["disk"] == 20


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "[slap-parameter] parameters-file: neither SlapOS XML nor JSON"),
        ("[1, 2]", "[slap-parameter] parameters-file: JSON parameters must be an object"),
        ("<instance><parameter>x</parameter>", "[slap-parameter] parameters-file: invalid XML"),
        (
            '{"_": "[1]"}',
            "[slap-parameter] parameters-file: the '_' parameter must hold a JSON object",
        ),
    ],
)
def test_bad_parameter_files(buildout, content, message):
    path = buildout.path("parameters.json")
    path.write_text(content)
    text = kvm(buildout).replace(
        "recipe = slapkit:parameters", f"recipe = slapkit:parameters\nparameters-file = {path}"
    )
    result = buildout.run(text)
    assert result.returncode != 0
    assert f"Error: {message}" in result.output
    assert "Traceback" not in result.output


def test_missing_parameters_file_and_bad_schema(buildout):
    result = buildout.run(kvm(buildout, extra="parameters-file = /nonexistent.json"))
    assert (
        "Error: [slap-parameter] parameters-file: cannot read '/nonexistent.json': No such file or directory"
        in result.output
    )
    bad = buildout.path("bad-schema.json")
    bad.write_text('{"type": 12}')
    result = buildout.run(kvm(buildout, extra=f"schema = {bad}"))
    assert f"Error: [slap-parameter] schema: {bad} is not a valid JSON Schema" in result.output


def test_unreachable_master_is_a_clear_error_naming_the_url(buildout):
    text = (
        kvm(buildout)
        + """
[slap-connection]
server-url = http://127.0.0.1:9/
computer-id = COMP-0
partition-id = slappart0
"""
    )
    result = buildout.run(text)
    assert result.returncode != 0
    assert "Error: [slap-parameter] connection-section:" in result.output
    assert "http://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output
    assert not buildout.path("config").exists()


def master_profile(buildout, master, partition_id):
    return KVM_DEFAULTS.format(output=buildout.path("config"), extra="").join(
        ["[buildout]\nparts = config\n", "\n" + master.connection_section(partition_id)]
    )


def test_parameters_from_a_real_slapos_master(buildout, slapos_master):
    partition = slapos_master.request("kvm", {"ram-size": "2048", "second-disk-location": ""})
    buildout.run(master_profile(buildout, slapos_master, partition.getId())).check()
    head, everything = rendered(buildout)
    assert head == "ram=2048 disk=[]"
    # The master's own keys (ip_list, slap_* ...) are not user parameters.
    assert everything == {"ram-size": "2048", "second-disk-location": ""}


def test_serialised_parameters_from_a_real_slapos_master(buildout, slapos_master):
    partition = slapos_master.request(
        "kvm", {"_": json.dumps({"ram-size": 4096, "second-disk-location": "/dev/vdb"})}
    )
    buildout.run(master_profile(buildout, slapos_master, partition.getId())).check()
    head, everything = rendered(buildout)
    assert head == "ram=4096 disk=[/dev/vdb]"
    assert everything["ram-size"] == 4096


def test_unknown_partition_on_a_real_master_is_a_clear_error(buildout, slapos_master):
    result = buildout.run(master_profile(buildout, slapos_master, "slappart99"))
    assert result.returncode != 0
    assert "Error: [slap-parameter] connection-section:" in result.output
    assert slapos_master.url in result.output
    assert "Traceback" not in result.output


def test_defaults_and_conversions_wherever_validation_reaches(buildout):
    # jsonschema's own walk: behind $ref, in allOf, if/then, array items.
    schema = buildout.path("schema.json")
    schema.write_text(
        json.dumps(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$defs": {"port": {"type": "integer", "default": 8080}},
                "type": "object",
                "allOf": [{"properties": {"title": {"type": "string", "default": "t"}}}],
                "properties": {
                    "port": {"$ref": "#/$defs/port"},
                    "mode": {"type": "string", "default": "single"},
                    "backends": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"weight": {"type": "integer", "default": 1}},
                        },
                    },
                },
                "if": {"properties": {"mode": {"const": "cluster"}}},
                "then": {"properties": {"nodes": {"type": "integer", "default": 3}}},
            }
        )
    )
    params = buildout.path("params.json")
    params.write_text(
        json.dumps({"mode": "cluster", "port": "81", "backends": [{"weight": "5"}, {}]})
    )
    buildout.run(
        f"[buildout]\nparts = t\n[p]\nrecipe = slapkit:parameters\nparameters-file = {params}\n"
        f"schema = {schema}\n[t]\nrecipe = slapkit:jinja2\noutput = {buildout.path('out')}\n"
        "context = jsonkey all p:parameters-json\ninline = {{ all | tojson }}\n"
    ).check()
    assert json.loads(buildout.path("out").read_text()) == {
        "mode": "cluster",
        "port": 81,
        "title": "t",
        "nodes": 3,
        "backends": [{"weight": 5}, {"weight": 1}],
    }


def test_a_write_only_value_escaped_is_still_secret(buildout):
    """Quoted by repr in an error message, by tojson or repr in a file: the
    escaped forms are secrets too (an outside test found each in the open)."""
    path = buildout.path("schema.json")
    path.write_text(
        json.dumps({"type": "object", "properties": {"pw": {"type": "string", "writeOnly": True}}})
    )
    secret = "it's\"a-<Secret>&"
    text = schema_profile(buildout, path, {"pw": secret}).replace(
        "inline = {{ all | tojson }}", "inline = {{ all.pw | tojson }}"
    )
    result = buildout.run(text, "-vv").check()
    assert json.loads(buildout.path("config").read_text()) == secret
    assert oct(buildout.path("config").stat().st_mode & 0o777) == "0o600"
    installed = buildout.path(".installed.cfg").read_text()
    for form in (secret, repr(secret)[1:-1], json.dumps(secret)[1:-1]):
        assert form not in installed and form not in result.output
    bad = text + (
        "\n[svc]\nrecipe = slapkit:wrapper\nwrapper-path = ${buildout:directory}/svc\n"
        "command-line = /bin/echo --password ${slap-parameter:pw}\n"
    )
    result = buildout.run(bad.replace("parts = config", "parts = config svc"))
    assert not result.ok and "Error: [svc] command-line: cannot split" in result.output
    for form in (secret, repr(secret)[1:-1], "Secret"):
        assert form not in result.output, result.output


def test_only_plain_parameter_names_become_options(buildout):
    """A name buildout would read as syntax stays in parameters-json: as an
    option it would write a section of the user's choosing into
    .installed.cfg, or an option buildout reads back as another."""
    odd = {"x\n[injected]\nrecipe": "r", "_private": "p", "a = b": "c", "ram-size": "2048"}
    buildout.run(kvm(buildout, odd)).check()
    head, everything = rendered(buildout)
    assert head == "ram=2048 disk=[]"
    assert everything == {**odd, "second-disk-location": ""}
    installed = buildout.path(".installed.cfg").read_text()
    assert "\n[injected]" not in installed
    assert "\n_private = " not in installed and "\na = b = " not in installed
    before = snapshot(buildout.directory)
    assert "Installing" not in buildout.run().check().output
    assert snapshot(buildout.directory) == before


def test_the_order_of_the_parameters_changes_nothing(buildout):
    """A master may send the same parameters in another order: objects and
    parameters-json are written with their keys sorted, so nothing is
    installed again."""
    parameters = {"zone": {"b": 1, "a": [2]}, "all-zones": "yes"}
    text = kvm(buildout, parameters) + (
        "\n[show]\nrecipe = slapkit:jinja2\n"
        f"output = {buildout.path('show')}\n"
        "inline = {{ zone }}|{{ all }}\n"
        "context =\n  key zone slap-parameter:zone\n  key all slap-parameter:parameters-json\n"
    )
    buildout.run(text.replace("parts = config", "parts = config show")).check()
    expected = (
        '{"a": [2], "b": 1}|{"all-zones": "yes", "ram-size": "1024", '
        '"second-disk-location": "", "zone": {"a": [2], "b": 1}}'
    )
    assert buildout.path("show").read_text() == expected
    reordered = {"all-zones": "yes", "zone": {"a": [2], "b": 1}}
    buildout.path("parameters.json").write_text(json.dumps(reordered))
    before = snapshot(buildout.directory)
    assert "Installing" not in buildout.run().check().output
    assert snapshot(buildout.directory) == before


@pytest.mark.parametrize(
    "parameters, heading",
    [
        ({"ram-size": "12"}, "1 parameter error:"),
        ({"ram-size": "12", "disk": 500}, "2 parameter errors:"),
    ],
)
def test_schema_errors_are_counted(buildout, schema, parameters, heading):
    result = buildout.run(schema_profile(buildout, schema, parameters))
    assert not result.ok
    assert f"Error: [slap-parameter] schema: {heading}\n" in result.output


def write_only_schema(buildout, properties):
    path = buildout.path("schema.json")
    path.write_text(json.dumps({"type": "object", "properties": properties}))
    return path


def test_a_write_only_parameter_with_an_odd_name_stays_secret(buildout):
    """Not an option of its own (see above), it is still in parameters-json:
    that one is served, never saved."""
    path = write_only_schema(buildout, {"_token": {"type": "string", "writeOnly": True}})
    secret = "Zq3x-odd-name-Secret"
    result = buildout.run(schema_profile(buildout, path, {"_token": secret}), "-vv").check()
    assert json.loads(buildout.path("config").read_text()) == {"_token": secret}
    assert oct(buildout.path("config").stat().st_mode & 0o777) == "0o600"
    assert secret not in buildout.path(".installed.cfg").read_text()
    assert secret not in result.output


def test_a_write_only_object_is_secret_leaf_by_leaf_and_whole(buildout):
    """Each value inside a writeOnly object is a secret, and the object as
    one JSON text is one secret (an error quoting it shows none of its
    keys); its true and null (in JSON or Python spelling) are not secrets,
    or every file saying true would be made private."""
    path = write_only_schema(buildout, {"login": {"type": "object", "writeOnly": True}})
    login = {"zed-user": "admin", "pass": "Zq3x-leaf-Secret", "port": 8443, "tls": True, "p": None}
    text = schema_profile(buildout, path, {"login": login})
    # First, while no schema check is kept: the object is then in the order
    # the user wrote it, its option text in sorted order.
    quoting = text + (
        "\n[svc]\nrecipe = slapkit:wrapper\nwrapper-path = ${buildout:directory}/svc\n"
        "command-line = /bin/echo '${slap-parameter:login}\n"
    )
    result = buildout.run(quoting.replace("parts = config", "parts = config svc"))
    assert "Error: [svc] command-line: cannot split" in result.output
    for shown in ("zed-user", "Zq3x-leaf-Secret", "8443"):
        assert shown not in result.output, result.output
    text += (
        "\n[leaf]\nrecipe = slapkit:jinja2\n"
        f"output = {buildout.path('leaf')}\n"
        "inline = {{ login.pass }}\n"
        "context = jsonkey login slap-parameter:login\n"
        "\n[python]\nrecipe = slapkit:jinja2\n"
        f"output = {buildout.path('python')}\n"
        "inline = TLS = True; PROXY = None; tls: true, proxy: null\n"
    )
    buildout.run(text.replace("parts = config", "parts = config leaf python")).check()
    assert buildout.path("leaf").read_text() == "Zq3x-leaf-Secret"
    assert oct(buildout.path("leaf").stat().st_mode & 0o777) == "0o600"
    assert oct(buildout.path("python").stat().st_mode & 0o777) == "0o640"
