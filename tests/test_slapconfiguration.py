"""slapkit:slapconfiguration, .serialised and .jsonschema through real buildout:
from the answer `slapkit deploy` writes, and from a real master (slapos proxy)."""

import http.server
import json
import os
import re
import signal
import urllib.error
import urllib.parse
import urllib.request

import pytest

from buildout_harness import keep_json, read_kept_json, snapshot
from slapos_master import SOFTWARE_URL

ANSWER = {
    "parameter-dict": {
        "name": "Alice",
        "empty": "",
        "slap_software_type": "default",
        "slap_computer_id": "COMP-1",
        "slap_computer_partition_id": "slappart3",
        "slap_software_release_url": "file:///srv/software.cfg",
        "ip_list": [
            ["lo", "127.0.0.1"],
            ["lo", "::1"],
            ["tap0", "10.0.0.2"],
            ["x", "junk"],
            ["tap1"],  # a truncated entry: skipped
            7,
        ],
        "instance_title": "My instance",
        "root_instance_title": "Root",
        "slave_instance_list": [],
    },
    "state": "started",
    "instance-guid": "SOFTINST-1",
}

CONNECTION = """
[slap-connection]
computer-id = COMP-1
partition-id = slappart3
server-url =
key-file =
cert-file =
instance-file = {answer}
"""

COOKBOOK_SECTION = """
[slap-configuration]
recipe = slapkit:{recipe}
computer = ${{slap-connection:computer-id}}
partition = ${{slap-connection:partition-id}}
url = ${{slap-connection:server-url}}
key = ${{slap-connection:key-file}}
cert = ${{slap-connection:cert-file}}
{extra}
"""


def profile(buildout, answer=ANSWER, recipe="slapconfiguration", extra="", parts="out", more=""):
    path = buildout.path("instance.json")
    path.write_text(json.dumps(answer))
    return (
        f"[buildout]\nparts = {parts}\n"
        + CONNECTION.format(answer=path)
        + COOKBOOK_SECTION.format(recipe=recipe, extra=extra)
        + more
    )


def template(buildout, text, *context):
    lines = "\n  ".join(context)
    return (
        f"\n[out]\nrecipe = slapkit:jinja2\noutput = {buildout.path('out.txt')}\n"
        f"inline =\n  {text}\ncontext =\n  {lines}\n"
    )


def installed(buildout):
    return buildout.path(".installed.cfg").read_text()


def test_every_output_from_the_answer_the_runner_writes(buildout):
    out = template(
        buildout,
        "{{ c['name'] }}|{{ c | tojson }}|{{ v4 | sort | join(',') }}|{{ v6 | list }}|"
        "{{ s['ipv4-random'] }}|{{ s['ipv6-random'] }}|{{ s['instance-title'] }}|"
        "{{ s['root-instance-title'] }}|{{ s['root-instance-short-title'] }}|"
        "{{ s['instance-guid'] }}|{{ s['instance-state'] }}|{{ s['slap-software-type'] }}|"
        "{{ s['slap-computer-partition-id'] }}|{{ shared | length }}",
        "key c slap-configuration:configuration",
        "key v4 slap-configuration:ipv4",
        "key v6 slap-configuration:ipv6",
        "key shared slap-configuration:slave-instance-list",
        "section s slap-configuration",
    )
    result = buildout.run(profile(buildout, more=out)).check()
    assert buildout.path("out.txt").read_text() == (
        'Alice|{"name": "Alice"}|10.0.0.2,127.0.0.1|[\'::1\']|10.0.0.2|::1|My instance|'
        "Root|UNKNOWN|SOFTINST-1|started|default|slappart3|0"
    )
    assert "unused option" not in result.output
    # Options stay strings: the sets and dicts as JSON.
    text = installed(buildout)
    assert 'ipv4 = ["10.0.0.2", "127.0.0.1"]\n' in text
    assert 'configuration = {"name": "Alice"}\n' in text
    assert "configuration.name = Alice\n" in text


def test_a_second_run_changes_nothing(buildout):
    text = profile(
        buildout, more=template(buildout, "{{ c }}", "key c slap-configuration:configuration")
    )
    buildout.run(text).check()
    before = snapshot(buildout.directory)
    second = buildout.run().check()
    assert "Installing" not in second.output and "Uninstalling" not in second.output
    assert snapshot(buildout.directory) == before


def test_defaults_are_configuration_options_and_an_empty_value_keeps_the_default(buildout):
    out = template(
        buildout,
        "{{ name }}|{{ empty }}|{{ other }}|{{ 'empty' in c }}",
        "key name slap-configuration:configuration.name",
        "key empty slap-configuration:configuration.empty",
        "key other slap-configuration:configuration.other",
        "key c slap-configuration:configuration",
    )
    extra = "configuration.name = Bob\nconfiguration.empty = kept\nconfiguration.other = default"
    buildout.run(profile(buildout, extra=extra, more=out)).check()
    assert buildout.path("out.txt").read_text() == "Alice|kept|default|False"


def test_connection_options_are_not_parameters(buildout):
    # What <= slap-connection brings, and the cookbook's spellings, are the
    # recipe's own options, never parameter defaults.
    text = profile(
        buildout,
        more=template(buildout, "{{ c | tojson }}", "key c slap-configuration:configuration"),
    )
    text = text.replace(
        "recipe = slapkit:slapconfiguration",
        "<= slap-connection\nrecipe = slapkit:slapconfiguration",
    )
    result = buildout.run(text).check()
    assert buildout.path("out.txt").read_text() == '{"name": "Alice"}'
    assert "unused option" not in result.output


def test_serialised_unwraps_and_gives_objects_to_templates(buildout):
    answer = json.loads(json.dumps(ANSWER))
    answer["parameter-dict"]["_"] = json.dumps({"ram": 2048, "disk": {"size": 10}, "name": "Zoe"})
    del answer["parameter-dict"]["name"]
    out = template(
        buildout,
        "{{ c.ram + 1 }}|{{ c.disk.size }}|{{ disk.size }}|{{ ram }}",
        "key c slap-configuration:configuration",
        "key disk slap-configuration:configuration.disk",
        "key ram slap-configuration:configuration.ram",
    )
    buildout.run(profile(buildout, answer, recipe="slapconfiguration.serialised", more=out)).check()
    assert buildout.path("out.txt").read_text() == "2049|10|10|2048"
    text = installed(buildout)
    assert 'configuration.disk = {"size": 10}\n' in text
    assert "configuration.ram = 2048\n" in text


DEEP = "[" * 300 + "]" * 300  # past the cap, short of what any json.loads refuses
DEEPER = "[" * 100_000 + "]" * 100_000  # past what json.loads can read at all


def test_a_serialised_parameter_nested_too_deep_is_one_clear_line(buildout):
    for deep in (DEEP, DEEPER):
        for recipe in ("slapconfiguration.serialised", "slapconfiguration.jsonschema"):
            answer = json.loads(json.dumps(ANSWER))
            answer["parameter-dict"]["_"] = (
                json.dumps({"ram": 1, "deep": json.loads(DEEP)}) if deep is DEEP else deep
            )
            extra = f"jsonschema = {software(buildout)}\n" if recipe.endswith("jsonschema") else ""
            out = template(buildout, "{{ c }}", "key c slap-configuration:configuration")
            result = buildout.run(profile(buildout, answer, recipe=recipe, extra=extra, more=out))
            assert not result.ok, recipe
            assert "Traceback" not in result.output, recipe
            assert "the '_' parameter nests deeper than 64 levels" in result.output, recipe
            assert "Error: [slap-configuration] instance-file: " in result.output, recipe


def test_a_shared_instance_nested_too_deep_is_refused_alone(buildout):
    shared = [
        {"slave_reference": "deep", "_": DEEP},
        {"slave_reference": "fine", "_": json.dumps({"url": "https://a", "port": 1})},
    ]
    more = template(
        buildout,
        "{% for s in valid %}{{ s.reference }};{% endfor %}|"
        "{% for s in invalid %}{{ s.reference }}:{{ s.errors }};{% endfor %}",
        "key valid slap-configuration:valid-shared-instance-list",
        "key invalid slap-configuration:invalid-shared-instance-list",
    )
    buildout.run(jsonschema_profile(buildout, {"ram": "2048"}, shared=shared, more=more)).check()
    assert buildout.path("out.txt").read_text() == (
        "fine;|deep:the '_' parameter nests deeper than 64 levels;"
    )


def test_plain_form_keeps_the_serialised_parameter_as_it_came(buildout):
    answer = json.loads(json.dumps(ANSWER))
    answer["parameter-dict"] = {"_": '{"a": 1}'}
    out = template(buildout, "{{ c | tojson }}", "key c slap-configuration:configuration")
    buildout.run(profile(buildout, answer, more=out)).check()
    assert json.loads(buildout.path("out.txt").read_text()) == {"_": '{"a": 1}'}


def test_an_option_quoting_an_output_elsewhere_is_a_string(buildout):
    # The object is served for the option the recipe set, not for a copy of
    # its text in another section.
    more = "\n[copy]\nc = ${slap-configuration:configuration}\n" + template(
        buildout,
        "{{ c.name }}|{{ text }}",
        "key c slap-configuration:configuration",
        "key text copy:c",
    )
    buildout.run(profile(buildout, more=more)).check()
    assert buildout.path("out.txt").read_text() == 'Alice|{"name": "Alice"}'


def test_hostile_parameter_names_and_values_stay_data(buildout):
    answer = json.loads(json.dumps(ANSWER))
    hostile = {
        "name": "${buildout:directory}\n[evil]\nrecipe = x",
        "x\n[evil]\nrecipe": "1",
        "${boom}": "2",
        "configuration": "3",
        "a=b": "4",
    }
    answer["parameter-dict"].update(hostile)
    out = template(buildout, "{{ c | tojson }}", "key c slap-configuration:configuration")
    buildout.run(profile(buildout, answer, more=out)).check()
    rendered = json.loads(buildout.path("out.txt").read_text())
    assert rendered == {**hostile}
    text = installed(buildout)
    assert not re.search(r"^\[evil\]", text, re.M)  # a value's lines stay indented
    assert "configuration.x" not in text and "configuration.${boom}" not in text
    second = buildout.run().check()
    assert "Installing" not in second.output


def test_no_master_and_no_answer_is_an_error_naming_the_option(buildout):
    result = buildout.run("[buildout]\nparts = c\n[c]\nrecipe = slapkit:slapconfiguration\nurl =\n")
    assert not result.ok
    assert "[c] url: no master to ask" in result.output


def test_an_unreadable_answer_names_the_file(buildout):
    buildout.path("bad.json").write_text("[1]")
    result = buildout.run(
        f"[buildout]\nparts = c\n[c]\nrecipe = slapkit:slapconfiguration\n"
        f"instance-file = {buildout.path('bad.json')}\n"
    )
    assert not result.ok
    assert "[c] instance-file:" in result.output and "not an instance answer" in result.output


def test_storage_home_disks_are_linked_under_DATA_once(buildout):
    home = buildout.path("storage")
    (home / "data1" / "slappart3").mkdir(parents=True)
    (home / "data2").mkdir()  # no directory for this partition: not listed
    out = template(buildout, "{{ d | tojson }}", "key d slap-configuration:storage-dict")
    buildout.run(profile(buildout, extra=f"storage-home = {home}", more=out)).check()
    link = buildout.path("DATA", "data1")
    assert json.loads(buildout.path("out.txt").read_text()) == {"data1": str(link)}
    assert os.readlink(link) == str(home / "data1" / "slappart3")
    before = snapshot(buildout.directory)
    assert "Installing" not in buildout.run().check().output
    assert snapshot(buildout.directory) == before


def test_every_disk_is_linked_for_the_partition_the_option_names_when_the_answer_does_not(
    buildout,
):
    home = buildout.path("storage")
    for disk in ("data1", "data2"):
        (home / disk / "slappart3").mkdir(parents=True)
    (home / "data3" / "slappart4").mkdir(parents=True)  # another partition's
    answer = json.loads(json.dumps(ANSWER))
    del answer["parameter-dict"]["slap_computer_partition_id"]
    out = template(buildout, "{{ d | tojson }}", "key d slap-configuration:storage-dict")
    buildout.run(profile(buildout, answer, extra=f"storage-home = {home}", more=out)).check()
    assert json.loads(buildout.path("out.txt").read_text()) == {
        disk: str(buildout.path("DATA", disk)) for disk in ("data1", "data2")
    }
    for disk in ("data1", "data2"):
        assert os.readlink(buildout.path("DATA", disk)) == str(home / disk / "slappart3")


def test_partition_resource_file_values_are_options(buildout):
    buildout.path(".slapos-resource").write_text(
        json.dumps(
            {"tap": {"ipv4_addr": "10.0.0.9", "name": "slaptap3"}, "tun": {"ipv4_addr": "10.1.0.9"}}
        )
    )
    out = template(
        buildout,
        "{{ tap }} {{ tun }} {{ name }}",
        "key tap slap-configuration:tap-ipv4-addr",
        "key tun slap-configuration:tun-ipv4-addr",
        "key name slap-configuration:tap-name",
    )
    buildout.run(profile(buildout, more=out)).check()
    assert buildout.path("out.txt").read_text() == "10.0.0.9 10.1.0.9 slaptap3"


def test_the_resource_file_overrides_neither_the_master_nor_the_profile(buildout):
    """A name the master's answer gives, or the profile's own section sets,
    keeps that value whatever .slapos-resource holds."""
    buildout.path(".slapos-resource").write_text(
        json.dumps({"instance_title": "forged", "tap": {"ipv4_addr": "10.0.0.9", "name": "x"}})
    )
    out = template(
        buildout,
        "{{ s['instance-title'] }} {{ s['tap-ipv4-addr'] }} {{ s['tap-name'] }}",
        "section s slap-configuration",
    )
    buildout.run(profile(buildout, extra="tap-name = slaptap-mine", more=out)).check()
    assert buildout.path("out.txt").read_text() == "My instance 10.0.0.9 slaptap-mine"


def test_reads_a_real_master(buildout, slapos_master):
    partition = slapos_master.request("main", {"name": "Carol", "empty": ""})
    partition_id = partition.getId()
    out = template(
        buildout,
        "{{ c | tojson }}|{{ s['instance-title'] }}|{{ s['slap-software-type'] }}|"
        "{{ s['ipv4-random'] }}|{{ s['instance-guid'] != '' }}",
        "key c slap-configuration:configuration",
        "section s slap-configuration",
    )
    text = (
        "[buildout]\nparts = out\n"
        + slapos_master.connection_section(partition_id)
        + COOKBOOK_SECTION.format(recipe="slapconfiguration", extra="")
        + out
    )
    buildout.run(text).check()
    assert buildout.path("out.txt").read_text() == '{"name": "Carol"}|main|default|127.0.0.1|True'


# -- slapconfiguration.jsonschema

SOFTWARE_JSON = {
    "name": "Schema test release",
    "serialisation": "json-in-xml",
    "software-type": {
        "default": {
            "software-type": "default",
            "index": 0,
            "title": "Main instance",
            "request": "instance-input-schema.json",
            "response": "instance-output-schema.json",
        },
        "default-slave": {
            "software-type": "default",
            "index": 1,
            "shared": True,
            "title": "Shared instance",
            "request": "shared-input-schema.json",
            "response": "instance-output-schema.json",
        },
    },
}
MAIN_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "ram": {"type": "integer", "default": 1024},
        "name": {"type": "string", "default": "nobody"},
        "password": {"type": "string", "writeOnly": True},
        "tls": {"$ref": "#/definitions/tls"},
    },
    "definitions": {"tls": {"type": "boolean", "default": False}},
}
SHARED_SCHEMA = {
    "type": "object",
    "required": ["url"],
    "properties": {"url": {"type": "string", "pattern": "^https?://"}, "port": {"type": "integer"}},
}


def software(buildout):
    buildout.path("software.cfg.json").write_text(json.dumps(SOFTWARE_JSON))
    buildout.path("instance-input-schema.json").write_text(json.dumps(MAIN_SCHEMA))
    buildout.path("shared-input-schema.json").write_text(json.dumps(SHARED_SCHEMA))
    return buildout.path("software.cfg.json")


def jsonschema_profile(
    buildout,
    user,
    shared=(),
    extra="set-default = main\nunstringify = main",
    more=None,
    software_type="default",
):
    answer = json.loads(json.dumps(ANSWER))
    answer["parameter-dict"] = {
        "_": json.dumps(user),
        "slap_software_type": software_type,
        "slave_instance_list": list(shared),
        "ip_list": [["lo", "127.0.0.1"]],
    }
    if more is None:
        more = template(buildout, "{{ c | tojson }}", "key c slap-configuration:configuration")
    return profile(
        buildout,
        answer,
        recipe="slapconfiguration.jsonschema",
        extra=f"jsonschema = {software(buildout)}\n{extra}",
        more=more,
    )


def test_jsonschema_applies_defaults_behind_refs_and_converts_strings(buildout):
    buildout.run(jsonschema_profile(buildout, {"ram": "2048", "name": ""})).check()
    assert json.loads(buildout.path("out.txt").read_text()) == {
        "ram": 2048,
        "name": "nobody",
        "tls": False,
    }


def test_jsonschema_without_set_default_and_unstringify_validates_as_given(buildout):
    result = buildout.run(jsonschema_profile(buildout, {"ram": "2048"}, extra=""))
    assert not result.ok
    assert (
        "[slap-configuration] jsonschema: 1 parameter error for software type 'default'"
        in result.output
    )
    assert "ram: '2048' is not of type 'integer'" in result.output
    assert not buildout.path("out.txt").exists()
    result = buildout.run(jsonschema_profile(buildout, {"ram": "2048", "tls": "true"}, extra=""))
    assert "jsonschema: 2 parameter errors for software type 'default'" in result.output


def test_jsonschema_reports_every_violation_at_once_and_writes_nothing(buildout):
    result = buildout.run(
        jsonschema_profile(buildout, {"ram": "lots", "tls": "maybe", "colour": "red"})
    )
    assert not result.ok
    assert "3 parameter errors" in result.output
    for path in ("(parameters):", "ram:", "tls:"):
        assert path in result.output
    assert not buildout.path("out.txt").exists()
    assert not buildout.path(".slapkit").exists()  # no result kept either


def test_jsonschema_write_only_values_are_secrets(buildout):
    result = buildout.run(
        jsonschema_profile(buildout, {"password": "hunter2-very-secret"}), "-vv"
    ).check()
    assert json.loads(buildout.path("out.txt").read_text())["password"] == "hunter2-very-secret"
    assert "hunter2-very-secret" not in installed(buildout)
    assert "hunter2-very-secret" not in result.output
    failed = buildout.run(jsonschema_profile(buildout, {"password": 12345678901}))
    assert "password: the value (hidden: writeOnly)" in failed.output
    assert "12345678901" not in failed.output


def test_jsonschema_shared_instances_are_validated_one_by_one(buildout):
    shared = [
        {
            "slave_reference": "good",
            "slave_title": "Good",
            "_": json.dumps({"url": "https://a", "port": 1}),
        },
        {"slave_reference": "bad", "slave_title": "Bad", "url": "ftp://b"},
        {"slave_reference": "plain", "url": "http://c", "port": "8080"},
    ]
    more = template(
        buildout,
        "{% for s in valid %}{{ s.reference }}={{ s.parameters | tojson }};{% endfor %}|"
        "{% for s in invalid %}{{ s.reference }}:{{ s.errors }};{% endfor %}",
        "key valid slap-configuration:valid-shared-instance-list",
        "key invalid slap-configuration:invalid-shared-instance-list",
    )
    extra = "set-default = all\nunstringify = all"
    buildout.run(jsonschema_profile(buildout, {}, shared, extra=extra, more=more)).check()
    valid, invalid = buildout.path("out.txt").read_text().split("|")
    assert valid == 'good={"port": 1, "url": "https://a"};plain={"port": 8080, "url": "http://c"};'
    assert invalid.startswith("bad:url: 'ftp://b' does not match")
    assert "slave-instance-list =" not in installed(buildout)


def test_jsonschema_unwraps_shared_instances_it_does_not_validate(buildout):
    shared = [{"slave_reference": "s1", "_": json.dumps({"url": "https://a"})}]
    more = template(buildout, "{{ l | tojson }}", "key l slap-configuration:slave-instance-list")
    extra = "validate-parameters = main\nset-default = main"
    buildout.run(jsonschema_profile(buildout, {}, shared, extra=extra, more=more)).check()
    assert json.loads(buildout.path("out.txt").read_text()) == [
        {"slave_reference": "s1", "url": "https://a"}
    ]
    extra += "\nunwrap-shared = false"
    buildout.run(jsonschema_profile(buildout, {}, shared, extra=extra, more=more)).check()
    assert json.loads(buildout.path("out.txt").read_text()) == shared


@pytest.mark.parametrize(
    "extra, expected",
    [
        (
            "set-default = both",
            "[slap-configuration] set-default: 'both' is not one of none, main, shared, all",
        ),
        (
            "validate-parameters = yes",
            "[slap-configuration] validate-parameters: 'yes' is not one of",
        ),
    ],
)
def test_jsonschema_scope_options_are_checked(buildout, extra, expected):
    result = buildout.run(jsonschema_profile(buildout, {}, extra=extra))
    assert not result.ok and expected in result.output


def test_jsonschema_unknown_software_type_names_the_known_ones(buildout):
    result = buildout.run(jsonschema_profile(buildout, {}, software_type="other"))
    assert not result.ok
    assert "software type 'other' has no entry with a 'request' schema" in result.output
    assert "(types: default, default-slave)" in result.output


@pytest.mark.parametrize("request_value", ["", 5])
def test_jsonschema_an_empty_or_non_text_request_is_no_schema(buildout, request_value):
    text = jsonschema_profile(buildout, {})
    data = json.loads(json.dumps(SOFTWARE_JSON))
    data["software-type"]["default"]["request"] = request_value
    buildout.path("software.cfg.json").write_text(json.dumps(data))
    result = buildout.run(text)
    assert not result.ok and "Traceback" not in result.output
    assert "software type 'default' has no entry with a 'request' schema" in result.output


def test_jsonschema_needs_a_serialisation(buildout):
    text = jsonschema_profile(buildout, {})
    data = dict(SOFTWARE_JSON)
    del data["serialisation"]
    buildout.path("software.cfg.json").write_text(json.dumps(data))
    result = buildout.run(text)
    assert not result.ok
    assert "gives no valid 'serialisation' for software type 'default'" in result.output


def test_jsonschema_shared_instances_need_a_shared_entry(buildout):
    data = json.loads(json.dumps(SOFTWARE_JSON))
    del data["software-type"]["default-slave"]
    text = jsonschema_profile(buildout, {}, [{"slave_reference": "s1", "url": "https://a"}])
    buildout.path("software.cfg.json").write_text(json.dumps(data))
    result = buildout.run(text)
    assert not result.ok
    assert "software type 'default' has no shared entry" in result.output


def test_jsonschema_validate_none_unwraps_and_checks_nothing(buildout):
    text = jsonschema_profile(
        buildout, {"anything": "goes", "ram": "x"}, extra="validate-parameters = none"
    )
    buildout.run(text).check()
    assert json.loads(buildout.path("out.txt").read_text()) == {"anything": "goes", "ram": "x"}


RESULTS = ".slapkit/schema/slap-configuration.json"


def test_jsonschema_results_are_kept_between_runs_and_follow_every_input(buildout):
    """An unchanged rerun takes the kept result (not importing jsonschema);
    a change of the parameters or of any schema file read, even one behind
    a $ref, is checked anew."""
    schema = dict(MAIN_SCHEMA, definitions={"tls": {"$ref": "tls.json"}})
    text = jsonschema_profile(buildout, {"ram": "2048"})
    buildout.path("instance-input-schema.json").write_text(json.dumps(schema))
    buildout.path("tls.json").write_text(json.dumps({"type": "boolean", "default": False}))

    def run():
        buildout.path("instance-input-schema.json").write_text(json.dumps(schema))
        buildout.run(text).check()
        return json.loads(buildout.path("out.txt").read_text())

    assert run() == {"ram": 2048, "name": "nobody", "tls": False}
    kept = buildout.path(RESULTS)
    assert os.stat(kept).st_mode & 0o777 == 0o600
    assert os.stat(kept.parent).st_mode & 0o777 == 0o700
    before = snapshot(buildout.path(".slapkit"))
    assert run() == {"ram": 2048, "name": "nobody", "tls": False}
    assert snapshot(buildout.path(".slapkit")) == before
    # The kept result is what the rerun used (here: tampered with on purpose).
    data = read_kept_json(kept)
    (entry,) = data["entries"].values()
    entry["completed"]["name"] = "from-the-kept-result"
    keep_json(kept, data)
    assert run()["name"] == "from-the-kept-result"
    # A file behind a $ref changed: checked anew.
    buildout.path("tls.json").write_text(json.dumps({"type": "boolean", "default": True}))
    assert run() == {"ram": 2048, "name": "nobody", "tls": True}
    # Corrupt: checked anew, and kept right again.
    kept.write_text("{not json")
    assert run() == {"ram": 2048, "name": "nobody", "tls": True}
    assert read_kept_json(kept)["entries"]
    # Other parameters: checked anew; only this run's result is kept.
    text = jsonschema_profile(buildout, {"ram": "4096"})
    assert run() == {"ram": 4096, "name": "nobody", "tls": True}
    (entry,) = read_kept_json(kept)["entries"].values()
    assert entry["completed"]["ram"] == 4096


def test_a_kept_result_not_provably_slapkits_is_never_used(buildout):
    """An edited store would let a value the schema refuses through (and a
    secret onto .installed.cfg): only what slapkit kept, authenticated with
    the partition's salt, is used; anything else is checked anew, quietly."""
    text = jsonschema_profile(buildout, {"ram": "2048", "password": "a-long-Secret"})
    buildout.run(text).check()
    kept = buildout.path(RESULTS)
    data = read_kept_json(kept)
    (entry,) = data["entries"].values()
    entry["completed"]["ram"] = "not a number"
    entry["secrets"] = []  # the password no longer marked writeOnly
    edits = {
        "edited": json.dumps(data),
        "malformed": json.dumps(
            {"entries": {key: {"files": 1, "completed": 2} for key in data["entries"]}}
        ),
        "not json": "{",
        "deep": "[" * 100_000,
    }
    for what, content in edits.items():
        kept.write_text(content)
        result = buildout.run(text).check()
        assert json.loads(buildout.path("out.txt").read_text())["ram"] == 2048, what
        assert "a-long-Secret" not in installed(buildout), what
        assert "Traceback" not in result.output, what
        assert read_kept_json(kept)["entries"], what  # kept right again


def test_jsonschema_results_are_never_kept_through_a_symlink(buildout, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    buildout.path(".slapkit").mkdir(mode=0o700)
    buildout.path(".slapkit/schema").symlink_to(elsewhere)
    buildout.run(jsonschema_profile(buildout, {"ram": "2048"})).check()
    buildout.run().check()
    assert json.loads(buildout.path("out.txt").read_text())["ram"] == 2048
    assert list(elsewhere.iterdir()) == []


def test_jsonschema_parameter_that_utf8_cannot_encode(buildout):
    """JSON can carry a lone surrogate ("\\udc80"), which zc.buildout cannot
    write into .installed.cfg: the option holds U+FFFD instead, objects keep
    the value, and the kept schema check is written and used."""
    text = jsonschema_profile(buildout, {"ram": "2048", "name": "odd-\udc80"})
    buildout.run(text).check()
    assert read_kept_json(buildout.path(RESULTS))["entries"]
    assert "configuration.name = odd-\ufffd\n" in installed(buildout)
    before = snapshot(buildout.path(".slapkit"))
    buildout.run(text).check()
    assert snapshot(buildout.path(".slapkit")) == before
    assert json.loads(buildout.path("out.txt").read_text())["name"] == "odd-\udc80"


def test_resource_file_only_from_the_partition_and_a_bad_one_is_a_clear_error(buildout):
    """slapgrid writes ``.slapos-resource`` into the partition: one in a shared
    parent (such as /tmp) injects nothing; a deep or malformed one in the
    partition is an error naming it, never a traceback."""
    shared = buildout.path("..", ".slapos-resource")
    shared.write_text(json.dumps({"tap": {"ipv4_addr": "6.6.6.6"}}))
    out = template(buildout, "{{ s.get('tap-ipv4-addr', 'none') }}", "section s slap-configuration")
    buildout.run(profile(buildout, more=out)).check()
    assert buildout.path("out.txt").read_text() == "none"
    assert "6.6.6.6" not in installed(buildout)
    for content in ("[" * 100_000 + "]" * 100_000, '{"tap": ', b'{"a": "\xff"}'):
        resource = buildout.path(".slapos-resource")
        if isinstance(content, bytes):
            resource.write_bytes(content)
        else:
            resource.write_text(content)
        result = buildout.run(profile(buildout, more=out))
        assert not result.ok, content[:20]
        assert "Traceback" not in result.output and "RecursionError" not in result.output
        assert "[slap-configuration]" in result.output
        assert ".slapos-resource" in result.output, result.output
    resource.unlink()
    os.mkfifo(resource)  # never opened: a run does not hang on it
    result = buildout.run(profile(buildout, more=out))
    assert not result.ok and "not a regular file" in result.output, result.output


def test_a_long_parameter_is_served_not_saved(buildout):
    """zc.buildout's parser costs the square of a value's line count each
    run it reads .installed.cfg: a value of 1000+ lines is not saved there."""
    value = "\n".join(f"row {i}" for i in range(5000))
    answer = json.loads(json.dumps(ANSWER))
    answer["parameter-dict"]["_"] = json.dumps({"big": value, "small": "a"})
    out = template(buildout, "{{ big | length }}", "key big slap-configuration:configuration.big")
    buildout.run(profile(buildout, answer, recipe="slapconfiguration.serialised", more=out)).check()
    assert buildout.path("out.txt").read_text() == str(len(value))
    text = installed(buildout)
    assert "row 1\n" not in text and "configuration.small = a\n" in text


def test_a_title_or_a_resource_with_a_line_break_adds_no_environment_variable(buildout):
    """Every output is the master's or the partition's, not the profile's:
    a line break in one is refused in a line-based option, as a parameter's
    is (an outside test exported LD_PRELOAD through --title and through a
    planted .slapos-resource)."""
    answer = json.loads(json.dumps(ANSWER))
    answer["parameter-dict"]["instance_title"] = "mine\nLD_PRELOAD=/tmp/evil.so"
    wrapper = (
        "\n[svc]\nrecipe = slapkit:wrapper\ncommand-line = /bin/true\n"
        f"wrapper-path = {buildout.path('svc')}\n"
        "environment = TITLE=${slap-configuration:instance-title}\n"
    )
    result = buildout.run(profile(buildout, answer, parts="svc", more=wrapper))
    assert not result.ok and "Traceback" not in result.output
    assert "Error: [svc] environment: a parameter value of several lines" in result.output
    assert not buildout.path("svc").exists()
    answer = json.loads(json.dumps(ANSWER))
    buildout.path(".slapos-resource").write_text(
        json.dumps({"tap": {"ipv4_addr": "10.0.0.1\nLD_PRELOAD=/tmp/evil.so"}})
    )
    text = profile(buildout, answer, parts="svc", more=wrapper).replace(
        "instance-title}", "tap-ipv4-addr}"
    )
    result = buildout.run(text)
    assert "Error: [svc] environment: a parameter value of several lines" in result.output
    assert not buildout.path("svc").exists()


@pytest.fixture
def reporting_master(slapos_master, tmp_path):
    """The master behind a front that keeps each error reported to it
    (slapos proxy answers them "Ignored"). Yields the front's URL and a
    function giving the reports so far, as (message, shared reference).
    The front is a child process, so that buildout runs stay forked."""
    kept = tmp_path / "reports.jsonl"
    kept.touch()

    class Front(http.server.BaseHTTPRequestHandler):
        def forward(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.startswith("/softwareInstanceError"):
                form = urllib.parse.parse_qs(body.decode())
                report = [form["error_log"][0], form.get("slave_reference", [None])[0]]
                with open(kept, "a") as stream:
                    stream.write(json.dumps(report) + "\n")
            request = urllib.request.Request(
                slapos_master.url + self.path,
                data=body if self.command == "POST" else None,
                method=self.command,
            )
            for name in ("Content-Type", "Authorization"):
                if self.headers.get(name):
                    request.add_header(name, self.headers[name])
            try:
                with urllib.request.urlopen(request) as response:
                    status, data = response.status, response.read()
            except urllib.error.HTTPError as exc:
                status, data = exc.code, exc.read()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = forward

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Front)
    pid = os.fork()
    if pid == 0:  # the front: serves until killed
        try:
            server.serve_forever()
        finally:
            os._exit(0)
    server.server_close()
    try:
        yield (
            f"http://127.0.0.1:{server.server_address[1]}",
            lambda: [tuple(json.loads(line)) for line in kept.read_text().splitlines()],
        )
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_jsonschema_errors_are_reported_to_the_master_per_instance(
    buildout, slapos_master, reporting_master
):
    """A shared instance's errors are reported for that shared instance, the
    main instance's for the partition; report-error = none reports nothing."""
    front, reports = reporting_master
    partition = slapos_master.request("main", {"_": json.dumps({"ram": "2048"})})
    slapos_master.client().registerOpenOrder().request(
        SOFTWARE_URL,
        partition_reference="s1",
        partition_parameter_kw={"_": json.dumps({"url": "ftp://b"})},
        shared=True,
    )
    connection = slapos_master.connection_section(partition.getId()).replace(
        slapos_master.url, front
    )

    def run(extra=""):
        return buildout.run(
            "[buildout]\nparts = out\n"
            + connection
            + COOKBOOK_SECTION.format(
                recipe="slapconfiguration.jsonschema",
                extra=f"jsonschema = {software(buildout)}\nunstringify = main\n{extra}",
            )
            + template(buildout, "{{ c | tojson }}", "key c slap-configuration:configuration")
        )

    run().check()
    ((message, reference),) = reports()
    assert reference == "_s1" and message.startswith("url: 'ftp://b' does not match")
    slapos_master.request("main", {"_": json.dumps({"ram": "lots"})})
    assert not run().ok  # the main instance's error stops the run: s1 is not reached
    ((message, reference),) = reports()[1:]
    assert reference is None
    assert message.startswith("1 parameter error for software type 'default':\n  ram: 'lots'")
    assert not run("report-error = none").ok
    assert len(reports()) == 2
