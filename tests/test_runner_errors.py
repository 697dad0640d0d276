"""How ``slapkit deploy`` reports what stopped buildout: a recipe that is not
installed (at once, offline), one that needs a SlapOS master, a syntax error
(at the user's own file and line), ``${:_profile_base_location_}``."""

from __future__ import annotations

import os
import shlex
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from slapkit.runner.supervisor import Supervisor
from test_runner import SLAPKIT, slapkit

PYTHON = sys.executable  # the Python the slapkit command runs


@pytest.fixture
def partition(tmp_path):
    directory = tmp_path / "partition"
    yield directory
    Supervisor(directory).shutdown()


def write(tmp_path: Path, text: str, name: str = "instance.cfg") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def failure(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines under ``buildout     FAILED`` (indented: the error)."""
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("buildout     FAILED"))
    said = []
    for line in lines[start + 1 :]:
        if not line.startswith(" "):
            break
        said.append(line)
    return said


# --- a recipe whose distribution is not installed ---------------------------------------


class Recorder(socketserver.ThreadingTCPServer):
    """A proxy that takes every connection the runner would make to the
    network, notes its first line, and closes it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.requests: list[str] = []
        recorder = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                recorder.requests.append(self.rfile.readline().decode(errors="replace").strip())

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def network():
    """The environment of a slapkit command whose every HTTP(S) request goes
    to a local recorder (nothing reaches the network, before the fix either)."""
    recorder = Recorder()
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    proxy = f"http://127.0.0.1:{recorder.server_address[1]}"
    environment = {name: value for name, value in os.environ.items() if name.lower() != "no_proxy"}
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        environment[name] = proxy
    yield environment, recorder.requests
    recorder.shutdown()
    recorder.server_close()


PROFILE_WITH = """[buildout]
parts = w

[w]
recipe = {recipe}
command-line = /bin/true
wrapper-path = ${{buildout:directory}}/w
"""
OFFLINE = "(buildout runs offline: it downloads nothing)"


def pip_install(distribution: str) -> str:
    return (
        f"    to use {distribution}, install it into the runner's Python: "
        f"{shlex.quote(PYTHON)} -m pip install {distribution}"
    )


def deploy_offline(profile: Path, partition: Path, network) -> list[str]:
    """The failure of a deploy whose every request would have been recorded."""
    environment, requests = network
    started = time.monotonic()
    result = subprocess.run(
        [SLAPKIT, "deploy", str(profile), "--partition", str(partition)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=180,
    )
    seconds = time.monotonic() - started
    # zc.buildout, offline, asked the package index for it and then scanned
    # the whole index (77 to 250 s) before saying it had none.
    assert requests == []  # not one request, to the index or anywhere
    assert seconds < 60, seconds  # a deploy's own time: seconds, not minutes
    return failure(result)


@pytest.mark.parametrize(
    "recipe, distribution, suggestion",
    [
        ("slapkit.wrapper", "slapkit.wrapper", "did you mean slapkit:wrapper?"),
        ("nosuch.recipe:wrapper", "nosuch.recipe", None),
    ],
)
def test_a_recipe_not_installed_fails_at_once_and_never_asks_the_network(
    recipe, distribution, suggestion, partition, tmp_path, network
):
    profile = write(tmp_path, PROFILE_WITH.format(recipe=recipe))
    lines = deploy_offline(profile, partition, network)
    assert lines[0] == f"  [w] recipe: no distribution {distribution} is installed {OFFLINE}"
    if suggestion:
        # a typo: no line that would install a distribution so named
        assert lines[1:] == [f"    {suggestion} (a recipe is DISTRIBUTION:ENTRY)"]
    else:
        assert lines[1:] == [pip_install(distribution)]


def test_a_recipe_whose_requirement_is_not_installed_names_both(partition, tmp_path, network):
    # A recipe's distribution in the partition's develop-eggs (where buildout
    # looks, offline), requiring one that is missing. (Not a develop = line:
    # zc.buildout 5+ runs pip for it, which reads the package index.)
    info = partition / "develop-eggs" / "needy.egg-info"
    info.mkdir(parents=True)
    (info / "PKG-INFO").write_text("Metadata-Version: 1.0\nName: needy\nVersion: 1.0\n")
    (info / "requires.txt").write_text("nosuch-requirement\n")
    (info / "entry_points.txt").write_text("[zc.buildout]\ndefault = needy:Recipe\n")
    profile = write(tmp_path, "[buildout]\nparts = x\n[x]\nrecipe = needy\n")
    assert deploy_offline(profile, partition, network) == [
        f"  [x] recipe needy needs the distribution nosuch-requirement, which is not "
        f"installed {OFFLINE}",
        pip_install("nosuch-requirement"),
    ]


def test_an_extension_not_installed_is_named_as_one(partition, tmp_path, network):
    profile = write(tmp_path, "[buildout]\nextensions = nosuch.extension\nparts =\n")
    assert deploy_offline(profile, partition, network) == [
        f"  [buildout] extensions: no distribution nosuch.extension is installed {OFFLINE}",
        pip_install("nosuch.extension"),
    ]


def test_a_cookbook_recipe_not_installed_is_shown_its_slapkit_namesake(tmp_path):
    # What zc.buildout says when slapos.cookbook is not installed (it is here).
    from slapkit.runner.buildout_errors import Origin, buildout_error
    from slapkit.runner.partition import make_partition, prepare_partition

    partition = tmp_path / "partition"
    profile = write(tmp_path, "[buildout]\nparts = x\n[x]\nrecipe = slapos.cookbook:wrapper\n")
    make_partition(partition)
    prepare_partition(profile, partition, {})
    lines = [
        "While:",
        "  Installing.",
        "  Getting section x.",
        "  Initializing section x.",
        "  Installing recipe slapos.cookbook.",
        "  Getting distribution for 'slapos.cookbook'.",
        "Error: We don't have a distribution for slapos.cookbook",
        "and can't install one in offline (no-install) mode.",
    ]
    said = buildout_error(lines, origin=Origin.of(partition)).splitlines()
    assert said[0] == (
        "[x] recipe: no distribution slapos.cookbook is installed "
        "(buildout runs offline: it downloads nothing)"
    )
    assert said[1] == (
        f"  slapkit has this recipe: `slapkit migrate {profile}` makes the profile use "
        "slapkit:wrapper"
    )


# --- a recipe that needs a SlapOS master ------------------------------------------------

COOKBOOK_SLAPCONFIGURATION = """[buildout]
parts = directory

[slap-configuration]
recipe = slapos.cookbook:slapconfiguration
computer = ${slap-connection:computer-id}
partition = ${slap-connection:partition-id}
url = ${slap-connection:server-url}
key = ${slap-connection:key-file}
cert = ${slap-connection:cert-file}

[directory]
recipe = slapkit:mkdirectory
srv = ${buildout:directory}/srv/${slap-configuration:slap-software-type}
"""


def test_a_recipe_that_needs_a_master_says_so_and_how_to_run_locally(partition, tmp_path):
    pytest.importorskip("slapos.recipe.librecipe", reason="slapos.cookbook is not installed")
    profile = write(tmp_path, COOKBOOK_SLAPCONFIGURATION)
    lines = failure(slapkit("deploy", profile, "--partition", partition, check=False))
    # It was a traceback of requests: Invalid URL '/registerComputerPartition'.
    assert lines == [
        "  [slap-configuration] recipe slapos.cookbook:slapconfiguration needs a SlapOS "
        "master (it asked one for /registerComputerPartition; slapkit deploy gives an empty "
        f"server-url): `slapkit migrate {profile}` makes the profile run locally "
        "(with slapkit:slapconfiguration)"
    ]
    # And what it says works.
    slapkit("migrate", profile)
    slapkit("deploy", profile, "--partition", partition)
    assert (partition / "srv" / "default").is_dir()


# --- a profile buildout cannot read: the user's own file and line -----------------------


@pytest.mark.parametrize(
    "text, said",
    [
        (
            "[buildout]\nparts = d\n\n[d\nrecipe = slapkit:mkdirectory\n",
            "  ParsingError: {profile}, line 4: '[d' is neither a [section] header, nor an "
            "option (name = value), nor an indented line continuing an option",
        ),
        (
            "[buildout]\nparts = d\n[d]\n  recipe = slapkit:mkdirectory\n",
            "  ParsingError: {profile}, line 4: '  recipe = slapkit:mkdirectory' is neither a "
            "[section] header, nor an option (name = value), nor an indented line continuing "
            "an option",
        ),
        (
            "# a profile\nparts = d\n[d]\nrecipe = slapkit:mkdirectory\n",
            "  MissingSectionHeaderError: {profile}, line 2: 'parts = d' comes before any "
            "[section] header (a profile starts with [buildout])",
        ),
        (
            "[buildout]\nparts = d\n\n[d]\nrecipe = slapkit:mkdirectory\n# the places\n"
            "   etc = ${buildout:directory}/etc\n",
            "  [d] recipe: its value is 2 lines, 'slapkit:mkdirectory\\n   etc = "
            "${buildout:directory}/etc': a line indented under an option continues its value "
            "({profile}, line 7: '   etc = ${buildout:directory}/etc' is indented; write it "
            "at the start of the line)",
        ),
    ],
    ids=["header", "indented-option", "no-header", "indented-under-recipe"],
)
def test_a_syntax_error_points_at_the_profile_and_its_line(text, said, partition, tmp_path):
    profile = write(tmp_path, text)
    result = slapkit("deploy", profile, "--partition", partition, check=False)
    # It pointed at the partition's copy: PARTITION/buildout.cfg.
    assert failure(result) == [said.replace("{profile}", str(profile))]
    assert "buildout.cfg" not in result.stdout
    if text.startswith("[buildout]\nparts = d\n\n[d\n"):  # once: -v adds the traceback
        verbose = slapkit("deploy", profile, "--partition", partition, "-v", check=False)
        assert "Traceback (most recent call last):" in verbose.stdout
        assert failure(verbose)[-1] == said.replace("{profile}", str(profile))


def test_a_syntax_error_in_an_extended_file_points_at_that_file(partition, tmp_path):
    base = write(tmp_path, "[buildout]\nparts =\nthis line is not an option\n", "base.cfg")
    profile = write(tmp_path, f"[buildout]\nextends = {base}\n")
    result = slapkit("deploy", profile, "--partition", partition, check=False)
    assert failure(result) == [
        f"  ParsingError: {base}, line 3: 'this line is not an option' is neither a [section] "
        "header, nor an option (name = value), nor an indented line continuing an option"
    ]


def test_a_profile_edited_since_it_was_copied_is_not_pointed_at(partition, tmp_path):
    # Line N of the partition's copy is line N of the profile only while the
    # profile is what was copied.
    from slapkit.runner.buildout_errors import Origin

    profile = write(tmp_path, "[buildout]\nparts = d\n[d\n")
    failure(slapkit("deploy", profile, "--partition", partition, check=False))
    assert Origin.of(partition).where(str(partition / "buildout.cfg"), 3) == f"{profile}, line 3"
    profile.write_text("[buildout]\n\nparts = d\n[d\n")
    copy = str(partition / "buildout.cfg")
    assert Origin.of(partition).where(copy, 3) == f"{copy}, line 3"


# --- ${:_profile_base_location_} ------------------------------------------------------


def test_profile_base_location_says_what_to_write_instead(partition, tmp_path):
    write(tmp_path, "hello\n", "template.in")
    profile = write(
        tmp_path,
        "[buildout]\nparts = t\n\n[t]\nrecipe = slapkit:jinja2\n"
        "url = ${:_profile_base_location_}/template.in\noutput = ${buildout:directory}/t\n",
    )
    result = slapkit("deploy", profile, "--partition", partition, check=False)
    # It was: Error: Referenced option does not exist: t _profile_base_location_
    assert failure(result) == [
        f"  [t] url ({profile}, line 6): ${{:_profile_base_location_}} is set only by SlapOS's "
        "zc.buildout fork, and there, in a partition, it names the partition (slapgrid "
        "copies the profile there, as slapkit deploy does): give the file's absolute path, "
        "as a software release renders it into its profiles"
    ]


def test_a_missing_recipe_of_the_compat_extra_names_the_extra():
    """slapos.recipe.build and its kind are installed here; the message for
    one missing on a user's machine, as buildout_error makes it."""
    import sys

    from slapkit.runner.buildout_errors import Origin, _not_installed

    for distribution in ("slapos.recipe.build", "plone.recipe.command", "slapos.toolbox"):
        message = _not_installed("[x] recipe", distribution, distribution, Origin())
        if distribution == "slapos.toolbox" and sys.version_info < (3, 12):
            assert message.endswith("run the runner with a Python 3.12+"), message
            continue
        assert message.endswith(
            f"to use {distribution}, install it into the runner's Python: "
            f"{shlex.quote(PYTHON)} -m pip install 'slapkit[compat]'"
        ), message
