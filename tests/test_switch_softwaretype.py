"""slapkit:switch-softwaretype through real buildout: the software type's
profile run as a sub-buildout in the same partition."""

import json
import os
import re

from buildout_harness import snapshot

ROOT = """
[buildout]
parts = switch-softwaretype {after}

[slap-connection]
instance-file = {answer}
server-url =

[slap-configuration]
recipe = slapkit:slapconfiguration.serialised
url = ${{slap-connection:server-url}}

[profiles]
default = {directory}/default.cfg
other = {directory}/other.cfg

[switch-softwaretype]
recipe = slapkit:switch-softwaretype
default = profiles:default
other = profiles:other
{more}
"""

DEFAULT = """
[buildout]
parts = data config service

[data]
recipe = slapkit:mkdirectory
srv = ${buildout:directory}/srv
service = ${buildout:directory}/etc/service

[secret]
recipe = slapkit:generate.password
storage-path = ${data:srv}/secret

[config]
recipe = slapkit:jinja2
output = ${data:srv}/default.conf
inline = {{ c.greeting }} {{ c.workers + 1 }} {{ ips | list }} {{ secret | length }}
context =
  key c slap-configuration:configuration
  key ips slap-configuration:ipv4
  key secret secret:passwd

[service]
recipe = slapkit:wrapper
command-line = /bin/sleep 100
wrapper-path = ${data:service}/default-service
"""

OTHER = """
[buildout]
parts = config

[config]
recipe = slapkit:jinja2
output = ${buildout:directory}/other.conf
inline = other {{ t }}
context =
  key t slap-configuration:slap-software-type
"""


def root(buildout, software_type="default", parameters=None, after="", more=""):
    buildout.path("default.cfg").write_text(DEFAULT)
    buildout.path("other.cfg").write_text(OTHER)
    answer = buildout.path("instance.json")
    values = parameters or {"greeting": "hi", "workers": 2}
    answer.write_text(
        json.dumps(
            {
                "parameter-dict": {
                    "_": json.dumps(values),
                    "slap_software_type": software_type,
                    "ip_list": [["lo", "127.0.0.1"]],
                },
                "state": "started",
            }
        )
    )
    return ROOT.format(answer=answer, directory=buildout.directory, after=after, more=more)


def test_runs_the_default_profile_as_a_sub_buildout(buildout):
    result = buildout.run(root(buildout)).check()
    secret = buildout.path("srv", "secret").read_text()
    assert buildout.path("srv", "default.conf").read_text() == f"hi 3 ['127.0.0.1'] {len(secret)}"
    assert buildout.path("etc", "service", "default-service").exists()
    assert buildout.path(".installed-switch-softwaretype.cfg").exists()
    assert "unused option" not in result.output
    assert not buildout.path("eggs", "v5", "v5").exists()  # the eggs directory as given

    before = snapshot(buildout.directory)
    second = buildout.run().check()
    assert "Installing" not in second.output and "Uninstalling" not in second.output
    assert snapshot(buildout.directory) == before


def test_switching_type_removes_the_old_wrappers_and_keeps_data(buildout):
    buildout.run(root(buildout)).check()
    secret = buildout.path("srv", "secret").read_text()
    result = buildout.run(root(buildout, "other")).check()
    assert buildout.path("other.conf").read_text() == "other other"
    assert not buildout.path("etc", "service", "default-service").exists()
    assert re.search(r"service: removed .*/etc/service/default-service", result.output)
    assert buildout.path("srv", "secret").read_text() == secret  # data stays
    assert buildout.path("srv").is_dir()


def test_root_software_instance_is_the_default_type(buildout):
    buildout.run(root(buildout, "RootSoftwareInstance")).check()
    assert buildout.path("srv", "default.conf").exists()


def test_an_unmapped_type_names_the_mapped_ones_and_changes_nothing(buildout):
    result = buildout.run(root(buildout, "frontend"))
    assert not result.ok
    assert (
        "[switch-softwaretype] slap-software-type: the software type 'frontend' is not mapped "
        "(mapped: default, other)"
    ) in result.output
    assert not buildout.path("srv").exists()


def test_an_unmapped_type_forges_no_line(buildout):
    """The software type is the user's (the master's request): quoted, never
    the start of a line of its own in buildout's output or the runner's log."""
    forged = "x\nError: [other] forged line\x1b[31m"
    result = buildout.run(root(buildout, forged))
    assert not result.ok
    assert "\nError: [other] forged line" not in result.output
    assert "\x1b" not in result.output
    assert "slap-software-type: the software type 'x\\nError: [other] forged line\\x1b[31m'" in (
        result.output
    )


def test_a_reference_instead_of_section_colon_option_is_refused(buildout):
    text = root(buildout).replace(
        "default = profiles:default\n", "default = ${profiles:default}\n", 1
    )
    text = text.replace(
        "[profiles]\ndefault = ${profiles:default}",
        "[profiles]\ndefault = " + str(buildout.path("default.cfg")),
    )
    result = buildout.run(text)
    assert not result.ok
    assert "is not of the form section:option" in result.output


def test_without_slap_configuration_the_error_says_what_is_needed(buildout):
    result = buildout.run(
        "[buildout]\nparts = s\n[s]\nrecipe = slapkit:switch-softwaretype\ndefault = a:b\n"
    )
    assert not result.ok
    assert "[s] recipe: needs a [slap-configuration] section" in result.output


def test_secrets_of_the_main_run_stay_out_of_both_records(buildout):
    more = (
        "\n[main-secret]\nrecipe = slapkit:generate.password\n"
        "\n[publish]\nrecipe = slapkit:publish\npassword = ${main-secret:passwd}\n"
    )
    buildout.run(root(buildout, after="publish", more=more)).check()
    password = buildout.path("parts", "main-secret").read_text()
    assert password not in buildout.path(".installed.cfg").read_text()
    assert password not in buildout.path(".installed-switch-softwaretype.cfg").read_text()


def test_hostile_parameters_reach_the_sub_buildout_as_data(buildout):
    hostile = {"greeting": "${secret:passwd}\n[evil]\nrecipe = x", "workers": 1}
    buildout.run(root(buildout, parameters=hostile)).check()
    text = buildout.path("srv", "default.conf").read_text()
    assert text.startswith("${secret:passwd}\n[evil]\nrecipe = x 2")
    assert not re.search(
        r"^\[evil\]", buildout.path(".installed-switch-softwaretype.cfg").read_text(), re.M
    )


def test_a_long_parameter_reaches_the_sub_buildout_and_neither_record(buildout):
    """A value of 1000+ lines is served, not saved (kept out of the main
    [slap-configuration]'s stored options): the sub-buildout's
    [slap-configuration] serves it as well."""
    greeting = "\n".join(f"row {i}" for i in range(1500))
    text = root(buildout, parameters={"greeting": greeting, "workers": 1})
    buildout.path("default.cfg").write_text(
        "[buildout]\nparts = config\n[config]\nrecipe = slapkit:jinja2\n"
        "output = ${buildout:directory}/greeting\ninline = {{ g }}\n"
        "context = key g slap-configuration:configuration.greeting\n"
    )
    buildout.run(text).check()
    assert buildout.path("greeting").read_text() == greeting
    for record in (".installed.cfg", ".installed-switch-softwaretype.cfg"):
        assert "row 1\n" not in buildout.path(record).read_text(), record


def test_with_the_extension_a_rerun_rewrites_no_record_of_the_sub_buildout(buildout):
    """``extensions = slapkit`` in the root profile is the sub-buildout's too."""
    text = root(buildout).replace("[buildout]\n", "[buildout]\nextensions = slapkit\n", 1)
    buildout.run(text).check()
    record = buildout.path(".installed-switch-softwaretype.cfg")
    before = os.stat(record)
    buildout.run().check()
    after = os.stat(record)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


SECRET_ROOT = """
[buildout]
parts = switch-softwaretype

[slap-configuration]
recipe = slapkit:slapconfiguration
url = ${slap-connection:server-url}

[admin-password]
recipe = slapkit:generate.password
storage-path = ${buildout:directory}/pw
chars = ab$$
bytes = 24

[instance-default]
recipe = slapkit:jinja2
output = ${buildout:directory}/instance-default.cfg
context = key pw admin-password:passwd
inline =
  [buildout]
  parts = conf
  [conf]
  recipe = slapkit:template
  output = ${buildout:directory}/conf.txt
  password = {{ dumps(pw) }}
  pwdict = {{ dumps({'a': pw}) }}
  inline = written

[switch-softwaretype]
recipe = slapkit:switch-softwaretype
default = instance-default:output
"""


def test_a_secret_dumps_writes_into_a_sub_profile_stays_out_of_its_records(tmp_path):
    """A sub-profile rendered with {{ dumps(password) }} holds the secret
    literally (!py!'…', its $ doubled): the sub-buildout's part keeps it out
    of .installed-*.cfg as the main run does."""
    from slapkit.runner.supervisor import Supervisor
    from test_runner import slapkit

    profile = tmp_path / "instance.cfg"
    profile.write_text(SECRET_ROOT)
    partition = tmp_path / "partition"
    try:
        slapkit("deploy", profile, "--partition", partition)
    finally:
        Supervisor(partition).shutdown()
    password = (partition / "pw").read_text().strip()
    assert "$" in password and len(password) == 24
    assert (partition / "conf.txt").read_text() == "written"
    for record in partition.glob(".installed*.cfg"):
        text = record.read_text()
        assert password not in text and password.replace("$", "$$") not in text, record.name
