"""The examples in examples/ are deployed as they are."""

import json
import shutil
import stat
from pathlib import Path

from buildout_harness import snapshot

EXAMPLES = Path(__file__).parent.parent / "examples"


def deploy_kvm(buildout, parameters=None):
    shutil.copy(EXAMPLES / "kvm" / "instance.cfg", buildout.path("instance.cfg"))
    tail = ""
    if parameters is not None:
        path = buildout.path("parameters.json")
        path.write_text(json.dumps(parameters))
        tail = f"[slap-connection]\nparameters-file = {path}\n"
    buildout.write("[buildout]\nextends = instance.cfg\n" + tail)
    return buildout.run()


def test_kvm_example_just_works_with_defaults(buildout):
    deploy_kvm(buildout).check()
    config = buildout.path("etc", "vm.conf").read_text()
    password = buildout.path("srv", "vnc-password").read_text()
    assert len(password) == 8
    assert config == (
        f"# Written by slapkit:jinja2\nmemory = 1024M\n# no second disk\nvnc-password = {password}"
    )
    assert stat.S_IMODE(buildout.path("etc", "vm.conf").stat().st_mode) == 0o600


def test_kvm_example_user_parameters_and_stable_password(buildout):
    deploy_kvm(buildout).check()
    password = buildout.path("srv", "vnc-password").read_text()
    deploy_kvm(buildout, {"ram-size": "4096", "second-disk-location": "/dev/vdb"}).check()
    config = buildout.path("etc", "vm.conf").read_text()
    assert "memory = 4096M\ndrive = /dev/vdb\n" in config
    assert buildout.path("srv", "vnc-password").read_text() == password
    before = snapshot(buildout.directory)
    rerun = buildout.run().check()
    assert snapshot(buildout.directory) == before
    assert "Installing" not in rerun.output


def test_kvm_example_empty_parameter_keeps_the_default(buildout):
    deploy_kvm(buildout, {"ram-size": "", "second-disk-location": ""}).check()
    assert "memory = 1024M\n# no second disk\n" in buildout.path("etc", "vm.conf").read_text()
