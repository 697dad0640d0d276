"""slapkit:publish-early through real buildout: values published as soon as
they exist, and given back to the sections that make them."""

import json

from buildout_harness import snapshot

PROFILE = """
[buildout]
parts = publish config

[publish-early]
recipe = slapkit:publish-early
-init =
  admin-password gen-password:passwd
  token gen-token:passwd
{forced}

[gen-password]
recipe = slapkit:generate.password
storage-path = ${{buildout:directory}}/admin.secret

[gen-token]
recipe = slapkit:generate.password
storage-path = ${{buildout:directory}}/token.secret
bytes = 8

[config]
recipe = slapkit:jinja2
output = ${{buildout:directory}}/config
inline = {{{{ password }}}} {{{{ token }}}}
context =
  key password publish-early:admin-password
  key token publish-early:token

[publish]
recipe = slapkit:publish.serialised
-extends = publish-early
url = http://example/
{connection}
"""


def profile(forced="", connection=""):
    return PROFILE.format(forced=forced, connection=connection)


def published(buildout):
    record = json.loads(buildout.path(".slapkit", "connection.json").read_text())
    return json.loads(record["_"])


def test_values_are_published_early_and_given_back_on_a_new_partition(buildout):
    result = buildout.run(profile()).check()
    password = buildout.path("admin.secret").read_text()
    token = buildout.path("token.secret").read_text()
    assert buildout.path("config").read_text() == f"{password} {token}"
    assert published(buildout) == {
        "admin-password": password,
        "token": token,
        "url": "http://example/",
    }
    assert "published early admin-password, token" in result.output
    assert password not in buildout.path(".installed.cfg").read_text()

    before = snapshot(buildout.directory)
    second = buildout.run().check()
    assert "published" not in second.output and "Installing" not in second.output
    assert snapshot(buildout.directory) == before

    # The partition is made anew (its stored secrets are gone): what was
    # published is given back, not a new password.
    buildout.path("admin.secret").unlink()
    buildout.path("token.secret").unlink()
    third = buildout.run().check()
    assert buildout.path("admin.secret").read_text() == password
    assert buildout.path("config").read_text() == f"{password} {token}"
    assert "published early" not in third.output


def test_published_as_publish_serialised_would_so_it_publishes_nothing_more(buildout):
    """Whatever the order of the -init lines, ``_`` is the JSON object with
    sorted keys, publish.serialised's text for the same values: a publish
    part that adds nothing finds it published already."""
    text = profile().replace(
        "  admin-password gen-password:passwd\n  token gen-token:passwd",
        "  token gen-token:passwd\n  admin-password gen-password:passwd",
    )
    early_only = text.replace("parts = publish config", "parts = config")
    buildout.run(early_only).check()
    record = json.loads(buildout.path(".slapkit", "connection.json").read_text())
    values = {
        "admin-password": buildout.path("admin.secret").read_text(),
        "token": buildout.path("token.secret").read_text(),
    }
    assert record["_"] == json.dumps(values, sort_keys=True)
    before = snapshot(buildout.path(".slapkit"))
    result = buildout.run(text.replace("url = http://example/\n", "")).check()
    assert "published" not in result.output
    assert snapshot(buildout.path(".slapkit")) == before


def test_a_forced_value_wins_and_is_published(buildout):
    buildout.run(profile(forced="token = fixed-token")).check()
    assert buildout.path("config").read_text().endswith(" fixed-token")
    assert published(buildout)["token"] == "fixed-token"
    assert not buildout.path("token.secret").exists()  # [gen-token] was never read


def sealed(buildout, content: str) -> None:
    """Write the local record as slapkit would have (sealed with the
    partition's salt): what a master's memory may hold."""
    import hashlib

    from slapkit.core.partition_state import keep
    from slapkit.recipes.publish import seal_of

    buildout.path(".slapkit").mkdir(exist_ok=True)
    record = buildout.path(".slapkit", "connection.json")
    record.write_text(content)
    digest = hashlib.sha256(record.read_bytes()).hexdigest().encode("ascii")
    keep(str(buildout.directory), seal_of(str(record)), digest)


def test_a_published_value_is_data(buildout):
    hostile = "p${buildout:directory}$${x}\n[evil]"
    sealed(buildout, json.dumps({"_": json.dumps({"admin-password": hostile})}))
    buildout.run(profile()).check()
    assert buildout.path("admin.secret").read_text() == hostile
    assert buildout.path("config").read_text().startswith(hostile)


def test_a_record_slapkit_did_not_write_is_not_the_memory(buildout):
    """An edited .slapkit/connection.json (a hand, a compromised service)
    must not choose the admin password."""
    buildout.run(profile()).check()
    password = buildout.path("admin.secret").read_text()
    buildout.path("admin.secret").unlink()  # the memory is all that is left
    record = buildout.path(".slapkit", "connection.json")
    forged = {"_": json.dumps({"admin-password": "attacker-chosen", "token": "t"})}
    record.write_text(json.dumps(forged))
    buildout.run().check()
    assert buildout.path("admin.secret").read_text() not in ("attacker-chosen", password)
    assert "attacker-chosen" not in buildout.path("config").read_text()


def test_an_unusable_record_is_one_clear_line_and_changes_nothing(buildout):
    record = buildout.path(".slapkit", "connection.json")
    contents = {
        "a number": json.dumps({"_": json.dumps({"admin-password": 5})}),
        "a list": json.dumps({"admin-password": ["x"]}),
        "deep _": json.dumps({"_": "[" * 100_000 + "]" * 100_000}),
        # (A record that is not a JSON object at all is not one slapkit
        # wrote, sealed or not: it counts as nothing published.)
    }
    for what, content in contents.items():
        sealed(buildout, content)
        result = buildout.run(profile())
        assert not result.ok, what
        assert "Traceback" not in result.output, what
        assert "Error: [publish-early] -init: " in result.output, what
        assert not buildout.path("admin.secret").exists(), what
        assert record.read_text() == content, what


def test_a_section_read_too_early_is_an_error(buildout):
    text = profile().replace("[gen-token]\n", "[gen-token]\nx = ${gen-password:passwd}\n")
    text = text.replace(
        "  admin-password gen-password:passwd\n  token gen-token:passwd",
        "  token gen-token:passwd\n  admin-password gen-password:passwd",
    )
    result = buildout.run(text)
    assert not result.ok
    assert "[publish-early] -init: [gen-password] was read before [publish-early]" in result.output
    assert not buildout.path(".slapkit", "connection.json").exists()


def test_a_bad_init_line_names_the_option(buildout):
    result = buildout.run(profile().replace("token gen-token:passwd", "token gen-token"))
    assert not result.ok
    assert (
        "[publish-early] -init: 'token gen-token' is not of the form KEY SECTION:OPTION"
        in result.output
    )


def test_publishes_early_to_a_real_master(buildout, slapos_master):
    partition = slapos_master.request("early", {})
    text = profile(connection=slapos_master.connection_section(partition.getId()))
    buildout.run(text).check()
    password = buildout.path("admin.secret").read_text()
    seen = slapos_master.request("early", {}).getConnectionParameterDict()
    assert json.loads(seen["_"])["admin-password"] == password
    buildout.path("admin.secret").unlink()
    buildout.run(text).check()
    assert buildout.path("admin.secret").read_text() == password
