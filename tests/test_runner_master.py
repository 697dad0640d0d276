"""slapkit deploy playing the master: software type, addresses, title and
shared instances reach slapkit:slapconfiguration as the master's answer
would; publishing to a shared instance shows in the summary."""

import json

import pytest

from configuration_profile import CONFIGURATION_SECTIONS
from slapkit.runner.local_master import LocalMaster, as_sent
from slapkit.runner.supervisor import Supervisor
from test_runner import slapkit

PROFILE = (
    """
[buildout]
parts = config publish-shared
"""
    + CONFIGURATION_SECTIONS
    + """
[publish-shared]
recipe = slapkit:publish
-slave-reference = frontend-1
url = http://[${{slap-configuration:ipv6-random}}]:8080/${{slap-configuration:slap-software-type}}
"""
)

SOFTWARE = {
    "serialisation": "json-in-xml",
    "software-type": {
        "frontend": {"software-type": "frontend", "request": "input.json"},
        "frontend-slave": {"software-type": "frontend", "request": "shared.json", "shared": True},
    },
}


@pytest.fixture
def profile(tmp_path):
    (tmp_path / "software.cfg.json").write_text(json.dumps(SOFTWARE))
    (tmp_path / "input.json").write_text(
        json.dumps({"type": "object", "properties": {"workers": {"type": "integer", "default": 2}}})
    )
    (tmp_path / "shared.json").write_text(
        json.dumps(
            {"type": "object", "required": ["host"], "properties": {"host": {"type": "string"}}}
        )
    )
    path = tmp_path / "instance.cfg"
    path.write_text(PROFILE.format(software_json=tmp_path / "software.cfg.json"))
    return path


@pytest.fixture
def partition(tmp_path):
    directory = tmp_path / "partition"
    yield directory
    Supervisor(directory).shutdown()


def test_software_type_addresses_title_and_shared_instances(tmp_path, profile, partition):
    shared = tmp_path / "shared.json.list"
    shared.write_text(
        json.dumps(
            [
                {"reference": "frontend-1", "parameters": {"host": "a.example"}},
                {"reference": "frontend-2", "parameters": {"port": 1}},
            ]
        )
    )
    args = ["deploy", profile, "--partition", partition, "--software-type", "frontend"]
    args += ["--ipv4", "10.0.0.7", "--ipv6", "2001:db8::7", "--title", "My frontend"]
    first = slapkit(*args, "--shared", shared, "-p", "workers=4")
    values = json.loads((partition / "config.json").read_text())
    assert values["slap-software-type"] == "frontend"
    assert values["ipv4-random"] == "10.0.0.7" and values["ipv6-random"] == "2001:db8::7"
    assert values["ipv6"] == ["2001:db8::7"]  # a set, in the template
    assert values["instance-title"] == "My frontend"
    assert values["configuration"] == {"workers": 4}
    assert [s["reference"] for s in values["valid-shared-instance-list"]] == ["frontend-1"]
    (invalid,) = values["invalid-shared-instance-list"]
    assert (
        invalid["reference"] == "frontend-2"
        and "'host' is a required property" in invalid["errors"]
    )
    assert "shared       frontend-1\n  url = http://[2001:db8::7]:8080/frontend\n" in first.stdout
    second = slapkit(*args, "--shared", shared, "-p", "workers=4")
    assert "files        0 changed" in second.stdout


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--ipv4", "::1", "--ipv4 '::1': not an IPv4 address"),
        ("--ipv6", "nope", "--ipv6 'nope': not an IP address"),
        ("--shared", "MISSING", "--shared: cannot read"),
    ],
)
def test_bad_master_options_are_one_line_errors(tmp_path, profile, option, value, expected):
    partition = tmp_path / "partition"
    result = slapkit("deploy", profile, "--partition", partition, option, value, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == f"slapkit: {expected}" or expected in result.stderr
    assert not (partition / "buildout.cfg").exists()


@pytest.mark.parametrize(
    "content, expected",
    [
        ('{"reference": "x"}', "must hold a JSON list"),
        ('[{"reference": "x"}, {"reference": "x"}]', "reference 'x' is empty or given twice"),
        ('[{"parameters": {}}]', "expected an object with a string 'reference'"),
    ],
)
def test_a_bad_shared_file_says_what_is_wrong(tmp_path, profile, content, expected):
    path = tmp_path / "shared.list"
    path.write_text(content)
    result = slapkit(
        "deploy", profile, "--partition", tmp_path / "p", "--shared", path, check=False
    )
    assert result.returncode == 2 and expected in result.stderr


def test_parameters_are_sent_as_a_master_sends_them():
    assert as_sent({"a": "1"}) == {"a": "1"}
    assert as_sent({"a": 1, "b": "x"}) == {"_": '{"a": 1, "b": "x"}'}
    answer = LocalMaster(ipv6="").answer({"a": "1"}, "C", "P", "file:///s")
    assert answer["parameter-dict"]["ip_list"] == [["lo", "127.0.0.1"]]
    assert answer["parameter-dict"]["slap_software_type"] == "default"


SWITCH_ROOT = """
[buildout]
parts = switch-softwaretype

[slap-configuration]
recipe = slapkit:slapconfiguration.serialised
url = ${{slap-connection:server-url}}

[profiles]
default = {directory}/default.cfg
worker = {directory}/worker.cfg

[switch-softwaretype]
recipe = slapkit:switch-softwaretype
default = profiles:default
worker = profiles:worker
"""

TYPED = """
[buildout]
parts = service

[service]
recipe = slapkit:wrapper
command-line = /bin/sleep 1000
wrapper-path = ${{buildout:directory}}/etc/service/{name}
"""


def test_a_root_profile_switches_on_the_software_type(tmp_path, partition):
    for name in ("default", "worker"):
        (tmp_path / f"{name}.cfg").write_text(TYPED.format(name=f"{name}-service"))
    profile = tmp_path / "instance.cfg"
    profile.write_text(SWITCH_ROOT.format(directory=tmp_path))
    (partition / "etc" / "service").mkdir(parents=True)
    first = slapkit("deploy", profile, "--partition", partition)
    assert "started   slappart0_default-service" in first.stdout
    worker = slapkit("deploy", profile, "--partition", partition, "--software-type", "worker")
    assert "started   slappart0_worker-service" in worker.stdout
    assert "stopped   slappart0_default-service" in worker.stdout
    assert "removed " in worker.stdout and "etc/service/default-service" in worker.stdout
    assert sorted(p.name for p in (partition / "etc" / "service").iterdir()) == ["worker-service"]
    again = slapkit("deploy", profile, "--partition", partition, "--software-type", "worker")
    assert "files        0 changed" in again.stdout
    assert "services     0 started, 0 restarted, 0 stopped" in again.stdout
    unmapped = slapkit(
        "deploy", profile, "--partition", partition, "--software-type", "nosuch", check=False
    )
    assert unmapped.returncode == 1
    assert "the software type 'nosuch' is not mapped (mapped: default, worker)" in unmapped.stdout
