import json
import os
import stat

from buildout_harness import snapshot


def profile(buildout, values: str, extra: str = "") -> str:
    return f"""
[buildout]
parts = publish

[password]
recipe = slapkit:generate.password

[publish]
recipe = slapkit:publish
{values}
{extra}
"""


def connection(buildout) -> dict:
    return json.loads(buildout.path(".slapkit", "connection.json").read_text())


def test_publishes_to_a_local_file_without_a_master(buildout):
    result = buildout.run(
        profile(buildout, "url = http://127.0.0.1:8080/\nadmin-password = ${password:passwd}")
    ).check()
    password = buildout.path("parts", "password").read_text()
    assert connection(buildout) == {"url": "http://127.0.0.1:8080/", "admin-password": password}
    path = buildout.path(".slapkit", "connection.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "publish: published admin-password, url to" in result.output
    # A published secret stays out of buildout's records.
    assert password not in buildout.path(".installed.cfg").read_text()


def test_nothing_is_written_when_values_did_not_change(buildout):
    buildout.run(profile(buildout, "url = http://a/")).check()
    before = snapshot(buildout.directory)
    result = buildout.run().check()
    assert snapshot(buildout.directory) == before
    assert "published" not in result.output
    result = buildout.run(profile(buildout, "url = http://b/")).check()
    assert connection(buildout) == {"url": "http://b/"}
    assert "published url" in result.output


def test_publishes_to_a_real_slapos_master(buildout, slapos_master):
    partition = slapos_master.request("web", {})
    text = profile(
        buildout,
        "url = http://[::1]:8080/\nadmin-password = ${password:passwd}",
        slapos_master.connection_section(partition.getId()),
    )
    first = buildout.run(text).check()
    password = buildout.path("parts", "password").read_text()
    assert f"to {slapos_master.url}" in first.output
    # The requester sees them, as a SlapOS user would.
    published = slapos_master.request("web", {}).getConnectionParameterDict()
    assert published["url"] == "http://[::1]:8080/"
    assert published["admin-password"] == password
    assert not buildout.path(".slapkit", "connection.json").exists()
    record = buildout.path(".slapkit", "published-publish")  # what was sent, 0600
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    # Unchanged values: nothing reaches the master. To see it, the master's
    # copy is changed behind slapkit's back; an unchanged run must leave it.
    from slapos_master import COMPUTER_ID

    own = slapos_master.client().registerComputerPartition(COMPUTER_ID, partition.getId())
    own.setConnectionDict({"url": "set by hand"})
    second = buildout.run().check()
    assert "published" not in second.output
    assert slapos_master.request("web", {}).getConnectionParameterDict() == {"url": "set by hand"}
    # A changed value is sent, all of them with it.
    buildout.run(text.replace("8080", "8081")).check()
    published = slapos_master.request("web", {}).getConnectionParameterDict()
    assert published["url"] == "http://[::1]:8081/" and published["admin-password"] == password


def test_a_planted_publication_record_never_skips_or_hangs_publishing(buildout, slapos_master):
    """The record of what was sent is slapkit's own: a FIFO planted there
    hung the run, and a file with the right digest made it skip publishing."""
    import hashlib

    partition = slapos_master.request("web", {})
    text = profile(
        buildout, "url = http://planted/", slapos_master.connection_section(partition.getId())
    )
    record = buildout.path(".slapkit", "published-publish")
    record.parent.mkdir(mode=0o700)
    digest = hashlib.sha256(
        json.dumps([slapos_master.url, None, {"url": "http://planted/"}], sort_keys=True).encode()
    ).hexdigest()
    record.write_text(digest + "\n")
    buildout.run(text).check()
    assert slapos_master.request("web", {}).getConnectionParameterDict() == {
        "url": "http://planted/"
    }
    record.unlink()
    os.mkfifo(record)
    result = buildout.run(text.replace("planted", "fifo"))
    assert result.ok, result.output  # replaced by a kept record, never opened
    assert slapos_master.request("web", {}).getConnectionParameterDict() == {"url": "http://fifo/"}


def test_master_error_names_the_url(buildout):
    text = profile(
        buildout,
        "url = x",
        "[slap-connection]\nserver-url = http://127.0.0.1:9/\ncomputer-id = C\npartition-id = p",
    )
    result = buildout.run(text)
    assert result.returncode != 0
    assert "Error: [publish] connection-section:" in result.output
    assert "http://127.0.0.1:9/" in result.output
    assert "Traceback" not in result.output


def test_extends_publishes_other_sections_and_dash_options_never(buildout):
    buildout.run(
        profile(
            buildout,
            "url = http://own/\n-extends = monitor\n-note = not published",
            "[monitor]\nmonitor-url = http://monitor/\nurl = http://loses/\n-extends = base\n"
            "[base]\nrecipe = slapkit:mkdirectory\nbase-dir = ${buildout:directory}/b\n"
            "-publish = base-dir\nother = ${buildout:directory}/not-listed\n",
        )
    ).check()
    assert connection(buildout) == {
        "url": "http://own/",  # the part's own value wins
        "monitor-url": "http://monitor/",
        "base-dir": str(buildout.path("b")),  # -publish: only the listed ones
    }


def test_extends_of_a_section_that_does_not_exist_is_a_user_error(buildout):
    result = buildout.run(profile(buildout, "url = x\n-extends = nosuch"))
    assert result.returncode == 1 and "Traceback" not in result.output
    assert "Error: [publish] -extends: there is no section [nosuch]" in result.output
    assert not buildout.path(".slapkit", "connection.json").exists()


def test_serialised_publishes_one_json_parameter(buildout):
    text = profile(buildout, "url = http://x/\nport = 8080\n-extends = more", "[more]\nb = 2\n")
    text = text.replace("recipe = slapkit:publish", "recipe = slapkit:publish.serialised")
    buildout.run(text).check()
    published = connection(buildout)
    assert published == {"_": '{"b": "2", "port": "8080", "url": "http://x/"}'}
    before = snapshot(buildout.directory)
    assert "published" not in buildout.run().check().output
    assert snapshot(buildout.directory) == before


def test_serialised_to_a_real_master_is_what_the_cookbook_sends(buildout, slapos_master):
    partition = slapos_master.request("web", {})
    text = profile(
        buildout,
        "url = http://[::1]:8080/\nadmin = ${password:passwd}",
        slapos_master.connection_section(partition.getId()),
    ).replace("recipe = slapkit:publish", "recipe = slapkit:publish.serialised")
    buildout.run(text).check()
    password = buildout.path("parts", "password").read_text()
    published = slapos_master.request("web", {}).getConnectionParameterDict()
    assert json.loads(published["_"]) == {"admin": password, "url": "http://[::1]:8080/"}
    assert password not in buildout.path(".installed.cfg").read_text()


def test_the_record_holds_what_this_run_publishes_and_nothing_added_by_hand(buildout):
    buildout.run(profile(buildout, "url = http://a/\nold-key = gone soon")).check()
    record = buildout.path(".slapkit", "connection.json")
    forged = {**connection(buildout), "admin-url": "http://evil/"}
    record.write_text(json.dumps(forged))
    result = buildout.run(profile(buildout, "url = http://a/")).check()
    assert connection(buildout) == {"url": "http://a/"}
    assert "publish: published url to" in result.output


def test_two_publish_parts_of_one_run_make_one_record_written_once(buildout):
    text = (
        "[buildout]\nparts = front back\n"
        "[front]\nrecipe = slapkit:publish\nurl = http://front/\n"
        "[back]\nrecipe = slapkit:publish.serialised\nport = 8080\n"
    )
    buildout.run(text).check()
    assert connection(buildout) == {"url": "http://front/", "_": '{"port": "8080"}'}
    before = snapshot(buildout.directory)
    result = buildout.run().check()
    assert snapshot(buildout.directory) == before
    assert "published" not in result.output


def test_a_record_nothing_publishes_to_any_more_is_removed(buildout):
    buildout.run(profile(buildout, "url = http://a/")).check()
    record = buildout.path(".slapkit", "connection.json")
    assert record.exists()
    result = buildout.run(
        f"[buildout]\nparts = d\n[d]\nrecipe = slapkit:mkdirectory\netc = {buildout.path('etc')}\n"
    ).check()
    assert not record.exists()
    assert f"removed {record}" in result.output


def test_a_changed_publish_part_keeps_its_record_and_rewrites_it_once(buildout):
    buildout.run(profile(buildout, "url = http://a/")).check()
    record = buildout.path(".slapkit", "connection.json")
    result = buildout.run(profile(buildout, "url = http://b/")).check()
    assert connection(buildout) == {"url": "http://b/"}
    assert "removed" not in result.output
    assert result.output.count("published url") == 1
    assert record.exists()


def test_a_shared_record_keeps_only_the_references_and_keys_published(buildout):
    text = "[buildout]\nparts = p\n[p]\nrecipe = slapkit:publish\n-slave-reference = A\nurl = u\n"
    buildout.run(text).check()
    record = buildout.path(".slapkit", "shared-connection.json")
    record.write_text(json.dumps({"A": {"url": "u", "forged": "x"}, "B": {"url": "evil"}}))
    buildout.run().check()
    assert json.loads(record.read_text()) == {"A": {"url": "u"}}


def test_an_edited_record_is_not_the_partitions_memory(buildout):
    """The local record is the master's memory when there is no master: a
    value written into it by hand (or by a compromised service) is not used,
    not even the keys this run publishes again."""
    buildout.run(profile(buildout, "url = http://a/\nsecret = ${password:passwd}")).check()
    record = buildout.path(".slapkit", "connection.json")
    password = connection(buildout)["secret"]
    record.write_text(json.dumps({"url": "http://a/", "secret": "attacker-chosen"}))
    result = buildout.run().check()
    assert connection(buildout) == {"url": "http://a/", "secret": password}
    assert "published" in result.output  # the record was put right


def test_the_runner_shows_no_planted_record(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    slapkit = str(Path(sys.executable).with_name("slapkit"))
    profile = tmp_path / "instance.cfg"
    profile.write_text("[buildout]\nparts =\n")
    partition = tmp_path / "partition"
    run = [slapkit, "deploy", str(profile), "--partition", str(partition)]
    subprocess.run(run, check=True, capture_output=True, timeout=120)
    (partition / ".slapkit" / "connection.json").write_text('{"url": "http://evil.example/"}')
    result = subprocess.run(run, capture_output=True, text=True, timeout=120)
    subprocess.run([slapkit, "stop", str(partition)], capture_output=True, timeout=120)
    assert "evil" not in result.stdout
    assert "connection   (nothing published)" in result.stdout


def test_two_shared_instances_published_by_one_run_are_written_once(buildout):
    text = (
        "[buildout]\nparts = a b\n"
        "[a]\nrecipe = slapkit:publish\n-slave-reference = A\nurl = http://a/\n"
        "[b]\nrecipe = slapkit:publish\n-slave-reference = B\nurl = http://b/\n"
    )
    buildout.run(text).check()
    record = buildout.path(".slapkit", "shared-connection.json")
    assert json.loads(record.read_text()) == {"A": {"url": "http://a/"}, "B": {"url": "http://b/"}}
    before = snapshot(buildout.directory)
    result = buildout.run().check()
    assert snapshot(buildout.directory) == before
    assert "published" not in result.output


def test_control_options_are_not_published_but_an_extended_sections_are(buildout):
    result = buildout.run(
        "[buildout]\nparts = publish\n"
        "[other]\nconnection-section = an option of another section\n"
        "[publish]\nrecipe = slapkit:publish\nconnection-section = slap-connection\n"
        "-extends = other\nurl = http://a/\n"
    ).check()
    assert connection(buildout) == {
        "url": "http://a/",
        "connection-section": "an option of another section",
    }
    assert "published connection-section, url" in result.output


SERIALISED_VALUES = (
    "nodes = !py!{'a': [1, 2], 'cost': '5$$'}\ncount = !py!3\non = !py!True\n"
    "plain = text\nuser = ${slap-parameter:hostile}"
)


def parameter_section(buildout) -> str:
    parameters = buildout.path("parameters.json")
    parameters.write_text(json.dumps({"hostile": "!py![1, 2]"}))
    return f"[slap-parameter]\nrecipe = slapkit:parameters\nparameters-file = {parameters}\n"


def test_a_profiles_serialised_values_are_published_as_the_objects_they_stand_for(buildout):
    """A sub-profile rendered with dumps (SlapOS's fork's !py! form): the
    master gets text for each value, JSON for a list or a dict; a user's
    parameter that looks serialised is published as the text it is."""
    buildout.run(profile(buildout, SERIALISED_VALUES, parameter_section(buildout))).check()
    assert connection(buildout) == {
        "nodes": '{"a": [1, 2], "cost": "5$"}',
        "count": "3",
        "on": "true",
        "plain": "text",
        "user": "!py![1, 2]",
    }
    text = profile(buildout, SERIALISED_VALUES, parameter_section(buildout))
    buildout.run(text.replace("slapkit:publish", "slapkit:publish.serialised")).check()
    assert json.loads(connection(buildout)["_"]) == {
        "nodes": {"a": [1, 2], "cost": "5$"},
        "count": 3,
        "on": True,
        "plain": "text",
        "user": "!py![1, 2]",
    }


def test_a_serialised_value_that_is_no_literal_is_refused_before_anything_is_published(
    buildout,
):
    result = buildout.run(profile(buildout, "url = !py!__import__('os').getcwd()"))
    assert result.returncode == 1
    assert "Error: [publish] url: " in result.output
    assert "is not a Python literal" in result.output
    assert not buildout.path(".slapkit", "connection.json").exists()
