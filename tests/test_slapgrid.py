"""slapkit under the engine its users run: slapos.core's StandaloneSlapOS.

A real local master (slapos proxy), real slapgrid (slapos node software /
instance) and real supervisord. slapgrid refuses to run as root, so
tools/slapgrid-test.sh runs this module as an unprivileged user.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slapgrid

standalone_module = pytest.importorskip(
    "slapos.slap.standalone", reason="needs slapos.core on Python 3.12+"
)
if os.getuid() == 0:
    pytest.skip(
        "slapgrid refuses to run as root: tools/slapgrid-test.sh runs this as another user",
        allow_module_level=True,
    )

from configuration_profile import CONFIGURATION_SECTIONS  # noqa: E402
from slapos_master import free_port  # noqa: E402

EXAMPLES = Path(__file__).parent.parent / "examples"
SOFTWARE_CFG = """\
# A software release made of what is installed beside slapgrid: nothing to
# download. Its instance profile is examples/hello-web, copied as is.
[buildout]
parts = instance-profile
offline = true

[instance-profile]
recipe = slapkit:jinja2
url = {template}
output = ${{buildout:directory}}/instance.cfg
"""


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def files(partition: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of the files slapkit manages in a partition."""
    result = {}
    for sub in ("etc", "srv"):
        for root, _, names in os.walk(partition / sub):
            for name in names:
                info = os.lstat(os.path.join(root, name))
                result[os.path.relpath(os.path.join(root, name), partition)] = (
                    info.st_ino,
                    info.st_mtime_ns,
                )
    return result


@pytest.fixture
def slapos():
    # Short path: supervisord's UNIX sockets live under it.
    base = Path(tempfile.mkdtemp(prefix="sk-", dir="/tmp"))
    port = free_port()
    standalone = standalone_module.StandaloneSlapOS(str(base), "127.0.0.1", port)
    try:
        standalone.start()
        standalone.format(partition_count=2, ipv4_address="127.0.0.1", ipv6_address="::1")
        yield standalone
    finally:
        standalone.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def software(tmp_path):
    directory = tmp_path / "hello-web-software"
    directory.mkdir()
    # The profile holds Jinja2 templates of its own: copied verbatim.
    profile = (EXAMPLES / "hello-web" / "instance.cfg").read_text()
    template = directory / "instance-hello-web.cfg.in"
    template.write_text("{% raw %}" + profile + "{% endraw %}")
    path = directory / "software.cfg"
    path.write_text(SOFTWARE_CFG.format(template=template))
    return str(path)


def service_pid(slapos) -> int:
    with slapos.instance_supervisor_rpc as supervisor:
        running = [
            p
            for p in supervisor.getAllProcessInfo()
            if "hello-web" in p["name"] and p["statename"] == "RUNNING"
        ]
    assert len(running) == 1, running
    return running[0]["pid"]


def process(slapos, everything: bool = False) -> None:
    # slapgrid skips a partition whose request did not change, unless told
    # to process them all: that is the daily "nothing changed" run.
    slapos._force_slapos_node_instance_all = everything
    try:
        slapos.waitForInstance(max_retry=5)
    finally:
        slapos._force_slapos_node_instance_all = False


@pytest.mark.parametrize("form", ["xml", "serialised"])
def test_hello_web_under_real_slapgrid(slapos, software, form):
    started = time.monotonic()
    slapos.supply(software)
    slapos.waitForSoftware(max_retry=3)

    port = free_port()

    def request(parameters: dict):
        if form == "serialised":
            parameters = {"_": json.dumps(parameters)}
        return slapos.request(software, "hello", partition_parameter_kw=parameters)

    partition = request({"port": str(port), "greeting": "Hello slapgrid"})
    process(slapos)
    partition = request({"port": str(port), "greeting": "Hello slapgrid"})
    connection = partition.getConnectionParameterDict()
    assert connection["url"] == f"http://127.0.0.1:{port}/"  # published to the master
    assert get(connection["url"]) == "Hello slapgrid\n"
    directory = Path(slapos.instance_directory) / partition.getId()
    password = (directory / "srv" / "admin-password").read_text()
    pid = service_pid(slapos)

    # The daily run: nothing changed, nothing written, nothing restarted.
    before = files(directory)
    process(slapos, everything=True)
    assert files(directory) == before
    assert service_pid(slapos) == pid
    assert (directory / "srv" / "admin-password").read_text() == password

    # A changed parameter: new config, the service restarts with it.
    request({"port": str(port), "greeting": "Bonjour slapgrid"})
    process(slapos)
    deadline = time.monotonic() + 30
    while get(f"http://127.0.0.1:{port}/") != "Bonjour slapgrid\n":
        assert time.monotonic() < deadline, "the service never served the new greeting"
        time.sleep(0.2)
    assert service_pid(slapos) != pid
    assert (directory / "srv" / "admin-password").read_text() == password
    print(f"\nslapgrid round trip ({form}): {time.monotonic() - started:.1f}s")


# -- the partition as the master describes it --------------------------------

MASTER_PROFILE = (
    """\
[buildout]
parts = config publish publish-shared
"""
    + CONFIGURATION_SECTIONS
    + """
[publish]
recipe = slapkit:publish.serialised
url = http://[${{slap-configuration:ipv6-random}}]:8080/
ipv4 = ${{slap-configuration:ipv4-random}}
workers = ${{slap-configuration:configuration.workers}}

[publish-shared]
recipe = slapkit:publish
-slave-reference = {reference}
url = https://shared.example/${{slap-configuration:instance-title}}
"""
)

SOFTWARE_JSON = {
    "name": "slapkit-master-test",
    "serialisation": "json-in-xml",
    "software-type": {
        "default": {"software-type": "default", "request": "input.json", "response": "input.json"},
        "default-slave": {
            "software-type": "default",
            "request": "shared-input.json",
            "response": "input.json",
            "shared": True,
        },
    },
}


def test_slapconfiguration_jsonschema_and_shared_instances_under_real_slapgrid(slapos, tmp_path):
    directory = tmp_path / "master-software"
    directory.mkdir()
    (directory / "software.cfg.json").write_text(json.dumps(SOFTWARE_JSON))
    (directory / "input.json").write_text(
        json.dumps(
            {
                "type": "object",
                "additionalProperties": False,
                "properties": {"workers": {"type": "integer", "default": 2}},
            }
        )
    )
    (directory / "shared-input.json").write_text(
        json.dumps(
            {"type": "object", "required": ["host"], "properties": {"host": {"type": "string"}}}
        )
    )
    template = directory / "instance.cfg.in"
    software = directory / "software.cfg"
    software.write_text(SOFTWARE_CFG.format(template=template))
    slapos.supply(str(software))

    def request(**kw):
        parameters = {"_": json.dumps(kw.pop("parameters", {}))}
        return slapos.request(str(software), partition_parameter_kw=parameters, **kw)

    main = request(partition_reference="main", parameters={"workers": "4"})
    request(partition_reference="front-1", shared=True, parameters={"host": "a.example"})
    # The master names the shared instance (slave_reference); the profile
    # publishes to it by that name, as a real frontend's profile would.
    hosting = slapos._slap.registerComputerPartition(slapos._computer_id, main.getId())
    (shared,) = hosting.getInstanceParameterDict()["slave_instance_list"]
    template.write_text(
        "{% raw %}"
        + MASTER_PROFILE.format(
            software_json=directory / "software.cfg.json", reference=shared["slave_reference"]
        )
        + "{% endraw %}"
    )
    slapos.waitForSoftware(max_retry=3)
    process(slapos)

    partition = Path(slapos.instance_directory) / main.getId()
    values = json.loads((partition / "config.json").read_text())
    assert values["configuration"] == {"workers": 4}
    assert values["slap-software-type"] == "default"
    assert values["instance-title"] == "main"
    assert values["ipv4-random"] in values["ipv4"] and values["ipv6-random"] in values["ipv6"]
    (valid,) = values["valid-shared-instance-list"]
    assert valid == {"reference": shared["slave_reference"], "parameters": {"host": "a.example"}}

    # Read back from the master, as the requesters see them.
    connection = json.loads(
        request(
            partition_reference="main", parameters={"workers": "4"}
        ).getConnectionParameterDict()["_"]
    )
    assert connection == {
        "url": f"http://[{values['ipv6-random']}]:8080/",
        "ipv4": values["ipv4-random"],
        "workers": "4",
    }
    shared_connection = request(
        partition_reference="front-1", shared=True, parameters={"host": "a.example"}
    ).getConnectionParameterDict()
    assert shared_connection == {"url": "https://shared.example/main"}

    # The daily run changes nothing.
    before = files(partition)
    config_stat = os.stat(partition / "config.json").st_mtime_ns
    process(slapos, everything=True)
    assert files(partition) == before
    assert os.stat(partition / "config.json").st_mtime_ns == config_stat


SWITCH_ROOT = """\
[buildout]
parts = switch-softwaretype

[slap-configuration]
<= slap-connection
recipe = slapkit:slapconfiguration.serialised

[profiles]
default = {directory}/default.cfg
worker = {directory}/worker.cfg

[switch-softwaretype]
recipe = slapkit:switch-softwaretype
default = profiles:default
worker = profiles:worker
"""

TYPED_PROFILE = """\
[buildout]
parts = service publish

[directory]
recipe = slapkit:mkdirectory
service = ${{buildout:directory}}/etc/service

[service]
recipe = slapkit:wrapper
command-line = /bin/sleep 1000
wrapper-path = ${{directory:service}}/{name}

[publish]
recipe = slapkit:publish
type = ${{slap-configuration:slap-software-type}}
title = ${{slap-configuration:instance-title}}
"""


def supply_switching_software(slapos, directory: Path, default: str, worker: str) -> Path:
    """A software release whose root profile switches on the software type
    (``default`` and ``worker`` profiles), supplied and installed."""
    directory.mkdir()
    (directory / "default.cfg").write_text(default)
    (directory / "worker.cfg").write_text(worker)
    template = directory / "instance.cfg.in"
    template.write_text("{% raw %}" + SWITCH_ROOT.format(directory=directory) + "{% endraw %}")
    software = directory / "software.cfg"
    software.write_text(SOFTWARE_CFG.format(template=template))
    slapos.supply(str(software))
    slapos.waitForSoftware(max_retry=3)
    return software


def test_a_root_profile_switches_on_the_requested_software_type(slapos, tmp_path):
    software = supply_switching_software(
        slapos,
        tmp_path / "switch-software",
        TYPED_PROFILE.format(name="default-service"),
        TYPED_PROFILE.format(name="worker-service"),
    )

    def request(software_type):
        return slapos.request(str(software), "typed", software_type=software_type)

    request("worker")
    process(slapos)
    partition = request("worker")
    assert partition.getConnectionParameterDict() == {"type": "worker", "title": "typed"}
    path = Path(slapos.instance_directory) / partition.getId()
    assert sorted(p.name for p in (path / "etc" / "service").iterdir()) == ["worker-service"]
    with slapos.instance_supervisor_rpc as supervisor:
        running = [p["name"] for p in supervisor.getAllProcessInfo() if p["statename"] == "RUNNING"]
    assert any("worker-service" in name for name in running), running

    before = files(path)
    process(slapos, everything=True)
    assert files(path) == before

    # Another type on the same instance: the worker's wrapper goes.
    request("default")
    process(slapos)
    assert request("default").getConnectionParameterDict() == {"type": "default", "title": "typed"}
    assert sorted(p.name for p in (path / "etc" / "service").iterdir()) == ["default-service"]


REQUESTING_ROOT = """\
[buildout]
parts = publish

[child]
<= slap-connection
recipe = slapkit:requestoptional
software-url = ${slap-connection:software-release-url}
name = child
software-type = worker
config-greeting = hello
return = url

[publish]
recipe = slapkit:publish
child-url = ${child:connection-url}
"""

REQUESTED_WORKER = """\
[buildout]
parts = publish

[publish]
recipe = slapkit:publish
url = http://worker.example/${slap-configuration:configuration.greeting}
"""


def test_a_root_instance_requests_a_child_and_reads_what_it_publishes(slapos, tmp_path):
    """slapkit:requestoptional under real slapgrid: the root requests a child
    of the same software release with a software type and a parameter; both
    partitions converge and the child's published value reaches the root."""
    software = supply_switching_software(
        slapos, tmp_path / "requesting-software", REQUESTING_ROOT, REQUESTED_WORKER
    )

    def root():
        return slapos.request(str(software), "root", software_type="default")

    root()
    # The root runs first, the child is allocated and runs, then the root
    # runs again and reads what the child published.
    deadline = time.monotonic() + 300
    while root().getConnectionParameterDict().get("child-url") != "http://worker.example/hello":
        assert time.monotonic() < deadline, root().getConnectionParameterDict()
        process(slapos, everything=True)
    instances = Path(slapos.instance_directory)
    before = {p.name: files(p) for p in instances.iterdir() if p.is_dir()}
    process(slapos, everything=True)
    assert {p.name: files(p) for p in instances.iterdir() if p.is_dir()} == before
