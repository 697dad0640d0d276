"""Wrappers under a real supervisord configured the way slapgrid does it."""

import os
import sys
import time
from pathlib import Path

import pytest

from slapkit.runner.supervisor import Supervisor
from test_wrapper import RECORD, read_record

PYTHON = sys.executable


@pytest.fixture
def supervisor(buildout):
    controller = Supervisor(buildout.directory)
    yield controller
    controller.shutdown()


def wait_for_state(supervisor, name, states, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        info = {p["name"]: p for p in supervisor.process_info()}
        if name in info and info[name]["statename"] in states:
            return info[name]
        assert time.monotonic() < deadline, f"{name} never reached {states}: {info.get(name)}"
        time.sleep(0.05)


def test_service_and_one_shot_under_supervisord(buildout, supervisor, tmp_path):
    service_record = tmp_path / "service.json"
    oneshot_record = tmp_path / "oneshot.json"
    buildout.run(f"""
[buildout]
parts = directory web init

[directory]
recipe = slapkit:mkdirectory
service = {buildout.path("etc", "service")}
run = {buildout.path("etc", "run")}

[web]
recipe = slapkit:wrapper
command-line = {PYTHON} {RECORD} --serve
environment =
  RECORD_TO={service_record}
  RECORD_SLEEP=60
wrapper-path = ${{directory:service}}/web

[init]
recipe = slapkit:wrapper
command-line = {PYTHON} {RECORD} --once
environment = RECORD_TO={oneshot_record}
wrapper-path = ${{directory:run}}/init
""").check()

    programs = {p.program_id: p for p in supervisor.programs()}
    assert programs["slappart0_web"].process_name == "web-on-watch"
    assert programs["slappart0_init"].process_name == "init"
    added, changed, removed = supervisor.sync()
    assert (sorted(added), changed, removed) == (["slappart0_init", "slappart0_web"], [], [])

    web = wait_for_state(supervisor, "web-on-watch", {"RUNNING"})
    # The wrapper exec'ed: supervisord's child is the program itself.
    assert read_record(service_record)["pid"] == web["pid"]
    assert read_record(service_record)["argv"] == ["--serve"]
    init = wait_for_state(supervisor, "init", {"EXITED"})
    assert init["exitstatus"] == 0
    assert read_record(oneshot_record)["argv"] == ["--once"]

    # Nothing changed: nothing restarts.
    assert supervisor.sync() == ([], [], [])
    assert wait_for_state(supervisor, "web-on-watch", {"RUNNING"})["pid"] == web["pid"]

    supervisor.shutdown()
    # Stopping supervisord sent TERM to the program itself.
    assert Path(str(service_record) + ".term").read_text() == f"TERM {web['pid']}"
    with pytest.raises(ProcessLookupError):
        os.kill(web["pid"], 0)
