"""The profile examples of README.rst deploy, with the real ``slapkit deploy``.

A README example that no longer runs (a recipe renamed, an option
refused, a reference to something that does not exist) fails here.

Two kinds of examples: *whole profiles* (a ``[buildout]`` with ``parts``),
deployed as they are; and *parts* (blocks of ``[section]``s), deployed all
together in one profile whose ``parts`` are theirs, beside a frame of the
sections they use but leave to the reader (``[directory]``,
``[slap-parameter]``...). A template that an example names in the software
release (``/opt/my-software/templates/NAME``) is written by the test, in a
directory that stands for the software release's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from slapkit.runner.supervisor import Supervisor
from slapos_master import free_port
from test_runner import slapkit

README = Path(__file__).parent.parent / "README.rst"
SOFTWARE = "/opt/my-software/"

# What the examples' templates hold (the context each example gives).
TEMPLATES = {
    "nginx.conf.in": "listen {{ port }};\n# {{ network['global-ipv4-network'] }}\n"
    "# {{ parameters['port'] }}\n",
    "mime.types.in": "text/html  html\n",
    "admin.conf.in": "password = {{ password }}\nhash = {{ password_hash }}\n",
}

# Sections the part examples use and leave to the reader, each used only
# where no example defines it. A section without a recipe stands for a part
# of the software release (its ``output`` is a file the test writes).
FRAME = {
    "directory": """recipe = slapkit:mkdirectory
etc = ${buildout:directory}/etc
service = ${:etc}/service
var = ${buildout:directory}/var""",
    "slap-parameter": "recipe = slapkit:parameters",
    "slap-configuration": """recipe = slapkit:slapconfiguration
computer = ${slap-connection:computer-id}
partition = ${slap-connection:partition-id}
url = ${slap-connection:server-url}
key = ${slap-connection:key-file}
cert = ${slap-connection:cert-file}""",
    "admin-password": "recipe = slapkit:generate.password",
    "web-config": "output = {software}/web.conf",
    "instance-default": "output = {software}/instance-default.cfg",
    "instance-frontend": "output = {software}/instance-frontend.cfg",
}
FRAME_FILES = {
    "web.conf": "greeting = hello\n",
    "instance-default.cfg": "[buildout]\nparts = default\n\n[default]\n"
    "recipe = slapkit:mkdirectory\nsrv = ${buildout:directory}/srv/default\n",
    "instance-frontend.cfg": "[buildout]\nparts =\n",
}

_HEADER = re.compile(r"^\[([^\]]+)\]\s*$", re.MULTILINE)


def literal_blocks(text: str) -> list[tuple[int, str]]:
    """Each literal block of a reStructuredText file, with the line it
    starts on: after a paragraph ending in ``::``, or under a ``..
    code-block::`` directive."""
    lines = text.split("\n")
    blocks = []
    index = 0
    while index < len(lines):
        line = lines[index].rstrip()
        opens = line.endswith("::") and (
            not line.lstrip().startswith("..") or line.lstrip().startswith(".. code-block::")
        )
        index += 1
        if not opens:
            continue
        margin = len(line) - len(line.lstrip())
        start = index
        while start < len(lines) and not lines[start].strip():
            start += 1
        if start == len(lines):
            break
        indent = len(lines[start]) - len(lines[start].lstrip())
        if indent <= margin:
            continue
        end = start
        while end < len(lines) and (
            not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) >= indent
        ):
            end += 1
        body = "\n".join(line[indent:] for line in lines[start:end]).strip("\n")
        blocks.append((start + 1, body + "\n"))
        index = end
    return blocks


def first_line(block: str) -> str:
    return next((line for line in block.split("\n") if line.strip() and line[0] not in "#;"), "")


def sections(block: str) -> list[str]:
    return _HEADER.findall(block)


def is_whole_profile(block: str) -> bool:
    return first_line(block) == "[buildout]" and bool(
        re.search(r"(?ms)^\[buildout\]$.*?^parts\s*[+-]?=", block)
    )


def is_part_example(block: str) -> bool:
    """Sections of a profile (a supervisord or crontab example has no recipe)."""
    return (
        bool(_HEADER.fullmatch(first_line(block)))
        and not is_whole_profile(block)
        and (first_line(block) == "[buildout]" or bool(re.search(r"(?m)^recipe\s*=", block)))
    )


EXAMPLES = literal_blocks(README.read_text(encoding="utf-8"))
WHOLE_PROFILES = [(line, block) for line, block in EXAMPLES if is_whole_profile(block)]
PART_EXAMPLES = [(line, block) for line, block in EXAMPLES if is_part_example(block)]


@pytest.fixture
def partition(tmp_path):
    directory = tmp_path / "partition"
    yield directory
    Supervisor(directory).shutdown()  # what a test started is stopped, also when it fails


def software_release(tmp_path: Path) -> Path:
    """The directory that stands for the software release: the templates
    the examples name, and the files of the frame."""
    software = tmp_path / "my-software"
    (software / "templates").mkdir(parents=True)
    for name, text in TEMPLATES.items():
        (software / "templates" / name).write_text(text)
    for name, text in FRAME_FILES.items():
        (software / name).write_text(text)
    return software


def in_release(block: str, software: Path) -> str:
    """The example, its software release's files found in ``software``."""
    for name in re.findall(re.escape(SOFTWARE) + r"templates/(\S+)", block):
        assert name in TEMPLATES, f"README names the template {name}: add it to TEMPLATES"
    return block.replace(SOFTWARE, f"{software}/")


def test_the_readme_has_examples_of_both_kinds():
    # A change of the README's markup must not make this test check nothing.
    assert len(WHOLE_PROFILES) >= 1
    assert len(PART_EXAMPLES) >= 8
    names = [name for _, block in PART_EXAMPLES for name in sections(block)]
    assert "slap-parameter" in names and "web-service" in names


@pytest.mark.parametrize(
    "block", [block for _, block in WHOLE_PROFILES], ids=[f"line{n}" for n, _ in WHOLE_PROFILES]
)
def test_a_whole_profile_example_deploys_and_converges(block, partition, tmp_path):
    profile = tmp_path / "instance.cfg"
    profile.write_text(in_release(block, software_release(tmp_path)))
    first = slapkit("deploy", profile, "--partition", partition, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    assert re.search(r"(?m)^ok in ", first.stdout)
    again = slapkit("deploy", profile, "--partition", partition)
    assert "files        0 changed" in again.stdout


def test_the_part_examples_deploy_together_and_converge(partition, tmp_path):
    software = software_release(tmp_path)
    defined: dict[str, int] = {}
    parts: list[str] = []
    for line, block in PART_EXAMPLES:
        for name in sections(block):
            # Two examples with one name would merge into one section here.
            assert name not in defined or name == "buildout", (
                f"README lines {defined[name]} and {line} both define [{name}]"
            )
            defined[name] = line
            if name != "buildout":
                parts.append(name)
    frame = "".join(
        f"\n[{name}]\n{body.replace('{software}', str(software))}\n"
        for name, body in FRAME.items()
        if name not in defined
    )
    examples = "".join(f"\n# README.rst, line {line}\n{block}" for line, block in PART_EXAMPLES)
    profile = tmp_path / "instance.cfg"
    profile.write_text(
        f"[buildout]\nparts = {' '.join(parts)}\n{in_release(examples, software)}{frame}"
    )
    port = free_port()
    first = slapkit("deploy", profile, "--partition", partition, "-p", f"port={port}", check=False)
    assert first.returncode == 0, first.stdout + first.stderr + profile.read_text()
    assert re.search(r"(?m)^ok in ", first.stdout)
    etc = partition / "etc"
    assert (etc / "nginx.conf").read_text().startswith(f"listen {port};\n")
    assert (etc / "mime.types").read_text() == TEMPLATES["mime.types.in"]
    password = (partition / "parts" / "admin-password").read_text()
    assert f"password = {password}\n" in (etc / "admin.conf").read_text()
    assert [p.name.split("-")[0] for p in (etc / "service").iterdir()] == ["web"]
    assert (partition / "srv" / "default").is_dir()  # the software type's profile ran
    again = slapkit("deploy", profile, "--partition", partition, "-p", f"port={port}")
    assert "files        0 changed" in again.stdout
    assert "services     0 started, 0 restarted, 0 stopped" in again.stdout
