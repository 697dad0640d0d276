"""A real SlapOS master for tests: ``slapos proxy`` (slapos.core) on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

COMPUTER_ID = "COMP-TEST"
SOFTWARE_URL = "https://example.invalid/software/hello-web/software.cfg"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Master:
    url: str
    process: subprocess.Popen

    def client(self):
        from slapos import slap

        client = slap.slap()
        client.initializeConnection(self.url)
        return client

    def format(self, partitions: int = 2) -> None:
        from slapos.util import dumps

        computer = self.client().registerComputer(COMPUTER_ID)
        computer.updateConfiguration(
            dumps(
                {
                    "reference": COMPUTER_ID,
                    "address": "127.0.0.1",
                    "netmask": "255.0.0.0",
                    "partition_list": [
                        {
                            "reference": f"slappart{i}",
                            "tap": {"name": f"slappart{i}"},
                            "address_list": [{"addr": "127.0.0.1", "netmask": "255.0.0.0"}],
                        }
                        for i in range(partitions)
                    ],
                }
            )
        )
        self.client().registerSupply().supply(SOFTWARE_URL, computer_guid=COMPUTER_ID)

    def request(self, reference: str, parameters: dict):
        """Request an instance as a user would; returns slapos.core's partition."""
        return (
            self.client()
            .registerOpenOrder()
            .request(SOFTWARE_URL, partition_reference=reference, partition_parameter_kw=parameters)
        )

    def connection_section(self, partition_id: str) -> str:
        return (
            "[slap-connection]\n"
            f"computer-id = {COMPUTER_ID}\n"
            f"partition-id = {partition_id}\n"
            f"server-url = {self.url}\n"
            f"software-release-url = {SOFTWARE_URL}\n"
            "key-file =\ncert-file =\n"
        )


def start_master(directory: Path) -> Master:
    pytest.importorskip("slapos.proxy", reason="slapos proxy needs slapos.core on Python 3.12+")
    port = free_port()
    config = directory / "slapos.cfg"
    config.write_text(
        "[slapos]\n"
        f"computer_id = {COMPUTER_ID}\n"
        f"master_url = http://127.0.0.1:{port}\n"
        "[slapproxy]\n"
        "host = 127.0.0.1\n"
        f"port = {port}\n"
        f"database_uri = {directory / 'proxy.db'}\n"
    )
    log = open(directory / "proxy.log", "wb")
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("slapos")), "proxy", "start", "--cfg", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(  # noqa: B904 - the log says why, not the exception
                    "slapos proxy did not start:\n" + (directory / "proxy.log").read_text()
                )
            time.sleep(0.1)
    return Master(f"http://127.0.0.1:{port}", process)


def stop_master(master: Master) -> None:
    master.process.terminate()
    try:
        master.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        master.process.kill()
        master.process.wait()
