"""The corpus: instance profiles that do what real SlapOS profiles do, run
with the cookbook (the anchor) and migrated by the one rule under
``slapkit deploy``; the rendered partitions must be equal.

Each ``tests/corpus/<name>/`` holds a profile written for slapkit's tests
in the manner of an upstream SlapOS profile (named, with its commit, in
``case.json``; nothing of it is copied), its templates, and the stand-in
binaries it runs. The anchor runs slapos.cookbook and slapos.recipe.template
in real zc.buildout, in a partition prepared exactly as ``slapkit deploy``
prepares one (slapgrid's tail, umask 027). The migrated profile is
``slapkit migrate``'s output, nothing else changed. Then:

- a case marked ``migrates`` deploys, a second deploy changes nothing, and
  every file and directory of the partition equals the anchor's, content
  and mode, but for ``KNOWN_DIFFERENCES``, the one list of what differs and
  why;
- a case marked ``not yet`` must fail where its ``why`` says (the recipe
  slapkit does not have yet): when it stops failing, the test says so, and
  the case is moved to ``migrates``.
"""

from __future__ import annotations

import ast
import json
import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from slapkit.runner.buildout_run import run_buildout
from slapkit.runner.partition import TAIL_MARKER, make_partition, prepare_partition
from slapkit.runner.supervisor import Supervisor
from slapos_master import COMPUTER_ID, start_master, stop_master

pytest.importorskip(
    "slapos.recipe.librecipe", reason="the anchor runs slapos.cookbook (Python 3.12+)"
)
pytest.importorskip("slapos.recipe.template", reason="the anchor runs slapos.recipe.template")

CORPUS = Path(__file__).parent / "corpus"
SLAPKIT = str(Path(sys.executable).with_name("slapkit"))

# Every way a migrated partition may differ from the anchor, and why. The
# comparison applies exactly these and nothing else.
KNOWN_DIFFERENCES = {
    "wrapper script": "slapkit writes its own sh script (every argument quoted, flock "
    "for pidfile, no Python for wait-for-files): wrappers are compared by what the "
    "program receives (arguments, environment, directory), not by their bytes",
    "wrapper mode": "the cookbook makes its sh wrappers 0700 (its Python ones, for "
    "pidfile or wait-for-files, 0777 less the umask); slapkit all of them 0777 less the "
    "umask (0750 under slapgrid's umask 027), like every executable it writes",
    "wrapper arguments": 'the cookbook\'s wrapper passes its own arguments on ("$@"); '
    "slapkit's only with parameters-extra = true (slapkit migrate reports each one)",
    "wrapper digest": "hash-files/hash-existing-files: slapkit's digest in the file name "
    "is keyed with the partition's salt, the cookbook's is not: names are compared "
    "without it",
    "password value": "a generated password is random: each side's is replaced by a "
    "marker in every file before the comparison",
    "password storage": "the cookbook keeps the password as JSON, mode 0644; slapkit "
    "the password alone, mode 0600 (and hashes in <storage-path>.hashes)",
    "promise plugin": "slapkit writes its own plugin file: plugins are compared by what "
    "slapgrid's launcher gets from them (extra_config_dict, sys.path, the promise's "
    "module and class or file), not by their bytes",
}
# Buildout's and the runner's own files: not rendered by the profile.
NOT_RENDERED = {
    ".installed.cfg",
    "buildout.cfg",
    ".slapkit",
    "develop-eggs",
    "eggs",
    "sbin",
    # slapgrid's promise launcher, run by slapkit deploy: its state, and
    # what it adds to etc/plugin to import the plugins.
    ".slapgrid",
}
_LAUNCHER_FILES = re.compile(r"etc/plugin/(__init__\.py|__pycache__)(/|\Z)")
# Programs' logs, at the partition's top as slapgrid puts them.
_PROGRAM_LOG = re.compile(r"\.slappart0_.*\.log\Z")
_DIGEST = re.compile(r"-[0-9a-f]{8,64}\Z")


@dataclass
class Case:
    name: str
    upstream: str
    commit: str
    reproduces: str
    status: str
    why: str = ""
    binaries: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    passwords: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=lambda: ["instance.cfg"])
    # Files the software release holds (hash-existing-files, data).
    software_files: list[str] = field(default_factory=list)
    # The anchor needs a SlapOS master (slapconfiguration, publish): slapos
    # proxy, the real one, is started for it.
    master: bool = False
    # Why the anchor cannot run here, when it cannot: slapos.cookbook's
    # slapconfiguration (all forms) and switch-softwaretype set options to
    # Python objects, which only SlapOS's own zc.buildout fork accepts (not
    # on PyPI). A case without an anchor that migrates is checked against
    # what the cookbook's code gives, written down from reading it:
    no_anchor: str = ""
    # relative path -> text the file holds (a substring)
    expected_files: dict[str, str] = field(default_factory=dict)
    # connection parameters published, exactly (the secrets' names only)
    expected_connection: dict[str, str] = field(default_factory=dict)
    # more arguments for slapkit deploy (the master's part: --ipv6…)
    deploy_args: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, directory: Path) -> Case:
        return cls(name=directory.name, **json.loads((directory / "case.json").read_text()))


CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "case.json").exists())


def materialize(case: Case, source: Path, target: Path, software: Path) -> None:
    """The case's files with the paths of this run filled in."""
    for path in sorted(source.rglob("*")):
        if path.name == "case.json" or path.is_dir():
            continue
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text().replace("@@SOFTWARE@@", str(software))
        destination.write_text(text.replace("@@PROFILE@@", str(target)))


def install_standins(case: Case, software: Path) -> None:
    for name in case.software_files:
        (software / name).parent.mkdir(parents=True, exist_ok=True)
        (software / name).write_text(f"{name} of the software release\n")
    code = (CORPUS / "standin.py").read_text()
    for name in case.binaries:
        binary = software / name
        binary.parent.mkdir(parents=True, exist_ok=True)
        binary.write_text(f"#!{sys.executable}\n{code}")
        binary.chmod(0o755)


def slapkit(*args: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SLAPKIT, *map(str, args)], capture_output=True, text=True, timeout=300, check=False
    )


def run_anchor(case: Case, profile: Path, partition: Path, master: Any) -> dict[str, str]:
    """Run the anchor; what it published (through the master, when it has one)."""
    make_partition(partition)
    prepare_partition(profile, partition, case.parameters)
    if master is not None:
        # slapgrid's tail, naming the master and the partition it gave.
        instance = master.request("corpus", case.parameters)
        config = partition / "buildout.cfg"
        marker = TAIL_MARKER
        profile_text, tail = config.read_text().split(marker)
        for option, value in (
            ("computer-id", COMPUTER_ID),
            ("partition-id", instance.getId()),
            ("server-url", master.url),
        ):
            tail = re.sub(rf"(?m)^{option} =.*$", f"{option} = {value}", tail)
            legacy = option.replace("-", "_")
            tail = re.sub(rf"(?m)^{legacy} =.*$", f"{legacy} = {value}", tail)
        text = profile_text + marker + tail
        config.write_text(text)
    run = run_buildout(partition, lambda line: None)
    log = (partition / ".slapkit" / "buildout.log").read_text()
    assert run.ok, f"the anchor (slapos.cookbook) fails: {run.error}\n{log}"
    if master is None:
        return {}
    return dict(master.request("corpus", case.parameters).getConnectionParameterDict())


# --- what a partition holds -----------------------------------------------------------


def is_wrapper(path: Path) -> bool:
    try:
        head = path.read_bytes()[:4096]
    except OSError:
        return False
    return (
        b"Written by slapkit:wrapper" in head
        or b"Written by slapkit:cron " in head
        or (head.startswith(b"#!") and b"slapos.recipe.librecipe.execute" in head)
        or (head.startswith(b"#!/bin/sh -e\n") and b"\nexec " in head)
    )


def passwords(case: Case, partition: Path) -> dict[str, str]:
    found = {}
    for index, relative in enumerate(case.passwords):
        text = (partition / relative).read_text()
        try:
            value = json.loads(text)[""]  # the cookbook's storage
        except ValueError:
            value = text
        found[value] = f"<password {index}>"
    return found


def inventory(case: Case, partition: Path) -> dict[str, tuple[str, int, Any]]:
    """Relative path -> (kind, mode, content); wrappers by what they run."""
    secrets = passwords(case, partition)
    storages = {partition / p for p in case.passwords}
    found: dict[str, tuple[str, int, Any]] = {}
    for root, directories, files in os.walk(partition):
        here = Path(root)
        if here == partition:
            directories[:] = [d for d in directories if d not in NOT_RENDERED]
        for name in directories + files:
            path = here / name
            if here == partition and (name in NOT_RENDERED or _PROGRAM_LOG.match(name)):
                continue
            relative = str(path.relative_to(partition))
            if _LAUNCHER_FILES.match(relative):
                continue
            info = path.lstat()
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                found[relative] = ("symlink", 0, os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                found[relative] = ("directory", mode, None)
            elif path in storages:
                found[relative] = ("password storage", 0, None)
            elif name.endswith(".hashes") and Path(str(path)[: -len(".hashes")]) in storages:
                continue  # slapkit's hashes beside the password
            elif is_wrapper(path):
                found[_DIGEST.sub("-<digest>", relative)] = ("wrapper", mode, path)
            elif (logged := logger_target(path)) is not None:
                # The anchor ran in the partition directory, since renamed.
                log = logged.replace(str(partition.parent / "partition"), str(partition))
                found[relative] = ("logger", mode, os.path.relpath(log, partition))
            elif relative.startswith("etc/plugin/") and name.endswith(".py"):
                found[relative] = ("file", mode, plugin_meaning(path))
            else:
                content = path.read_bytes().decode("utf-8", "surrogateescape")
                for secret, marker in secrets.items():
                    content = content.replace(secret, marker)
                found[relative] = ("file", mode, content)
    return found


_LOGGER = re.compile(r"(?:slapos\.recipe\.simplelogger\.log|\bopen)\('([^']*)'")


def logger_target(path: Path) -> str | None:
    """The log a simplelogger script appends to (the cookbook's or
    slapkit's, which write it differently and stamp lines alike)."""
    try:
        head = path.read_bytes()[:4096].decode("utf-8", "replace")
    except OSError:
        return None
    if "slapos.recipe.simplelogger" not in head and "Written by slapkit:simplelogger" not in head:
        return None
    found = _LOGGER.search(head)
    return found.group(1) if found else None


def plugin_meaning(path: Path) -> dict[str, Any]:
    """What slapgrid's launcher gets from a promise plugin file: "promise plugin"."""
    meaning: dict[str, Any] = {"files": set()}
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id == "extra_config_dict":
                meaning["config"] = ast.literal_eval(node.value)
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
            meaning["sys.path"] = list(ast.literal_eval(node.value))
        elif isinstance(node, ast.ImportFrom) and node.module not in (None, "__future__"):
            meaning["import"] = (node.module, [alias.name for alias in node.names])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.endswith(".py"):  # the profile's copy on each side
                meaning["files"].add(
                    re.sub(r"/(anchor|migrated)-profile/", "/<profile>/", node.value)
                )
    return meaning


def what_runs(wrapper: Path, record: Path) -> dict[str, Any]:
    """Run a wrapper with one extra argument; what its program received."""
    record.unlink(missing_ok=True)
    environment = {"PATH": "/usr/bin:/bin", "CORPUS_RECORD": str(record), "HOME": "/nonexistent"}
    subprocess.run(
        [str(wrapper), "EXTRA-ARGUMENT"],
        env=environment,
        timeout=60,
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    (seen,) = [json.loads(line) for line in record.read_text().splitlines()]
    for noise in ("PWD", "SHLVL", "_", "CORPUS_RECORD", "LC_CTYPE"):
        seen["env"].pop(noise, None)
    return seen


def compare(case: Case, anchor: Path, migrated: Path, work: Path) -> list[str]:
    """Every difference left once KNOWN_DIFFERENCES are applied."""
    left, right = inventory(case, anchor), inventory(case, migrated)
    problems = [f"only in the anchor: {p}" for p in sorted(left.keys() - right.keys())]
    problems += [f"only in slapkit's: {p}" for p in sorted(right.keys() - left.keys())]
    for relative in sorted(left.keys() & right.keys()):
        (kind, mode, content), (other_kind, other_mode, other_content) = (
            left[relative],
            right[relative],
        )
        if kind != other_kind:
            problems.append(f"{relative}: {kind} in the anchor, {other_kind} in slapkit's")
        elif kind == "wrapper" and (mode, content.read_bytes()) == (
            other_mode,
            other_content.read_bytes(),
        ):
            continue  # the same script on both sides (a recipe left as it is)
        elif kind == "wrapper":
            # "wrapper mode" and "wrapper script": by what runs, not bytes or mode.
            if mode not in (0o700, 0o750) or other_mode != 0o750:
                problems.append(f"{relative}: wrapper modes {oct(mode)} and {oct(other_mode)}")
            expected = what_runs(content, work / "record")
            # "wrapper arguments": the cookbook passes its own arguments on.
            if expected["argv"][-1:] == ["EXTRA-ARGUMENT"]:
                expected["argv"] = expected["argv"][:-1]
            seen = what_runs(other_content, work / "record")
            if seen["argv"][-1:] == ["EXTRA-ARGUMENT"]:
                seen["argv"] = seen["argv"][:-1]
            if seen != expected:
                problems.append(f"{relative}: runs {seen}, the anchor's runs {expected}")
        elif (mode, content) != (other_mode, other_content):
            problems.append(
                f"{relative}: mode {oct(mode)} -> {oct(other_mode)}"
                if content == other_content
                else f"{relative}: content differs:\n--- anchor\n{content}\n--- slapkit\n"
                f"{other_content}"
            )
    return problems


def profile_of(case: Case, directory: Path) -> Path:
    return directory / case.profiles[0]


def parameters_file(case: Case, directory: Path) -> Path:
    path = directory / "parameters.json"
    path.write_text(json.dumps(case.parameters))
    return path


def check_not_yet(case: Case, report: str, profile: Path, partition: Path, work: Path) -> None:
    """slapkit migrate says why (a recipe slapkit does not have yet) and the
    deploy fails; when either changes, the case must be looked at again."""
    assert case.why in report, report
    parameters = parameters_file(case, work)
    try:
        first = slapkit("deploy", profile, "--partition", partition, "--parameters", parameters)
    finally:
        Supervisor(partition).shutdown()
    assert first.returncode != 0, (
        f"{case.name} deploys now: compare it and mark it 'migrates'\n{first.stdout}"
    )
    pytest.xfail(f"not yet: {case.why}")


def deploy_twice(case: Case, profile: Path, partition: Path, work: Path) -> None:
    """The migrated profile deploys, and a second deploy changes nothing."""
    parameters = parameters_file(case, work)
    args = ["deploy", profile, "--partition", partition, "--parameters", parameters]
    args += case.deploy_args
    try:
        first = slapkit(*args)
        assert first.returncode == 0, first.stdout + first.stderr
        second = slapkit(*args)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "files        0 changed" in second.stdout, second.stdout
        assert "services     0 started, 0 restarted, 0 stopped" in second.stdout, second.stdout
    finally:
        Supervisor(partition).shutdown()


def check_expected(case: Case, partition: Path) -> None:
    problems = []
    for relative, text in case.expected_files.items():
        path = partition / relative
        content = path.read_text() if path.is_file() else None
        if content is None or text not in content:
            problems.append(f"{relative}: expected to hold {text!r}, holds {content!r}")
    if case.expected_connection:
        connection = json.loads((partition / ".slapkit" / "connection.json").read_text())
        secret = set(case.expected_connection) - {
            key for key, value in case.expected_connection.items() if value != "<secret>"
        }
        seen = {key: "<secret>" if key in secret else value for key, value in connection.items()}
        if seen != case.expected_connection:
            problems.append(f"published {seen}, expected {case.expected_connection}")
    assert not problems, "\n".join(problems)


# --- the test -------------------------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_corpus_profile(name, tmp_path):
    case = Case.load(CORPUS / name)
    software, anchor_profiles, migrated_profiles = (
        tmp_path / "software",
        tmp_path / "anchor-profile",
        tmp_path / "migrated-profile",
    )
    install_standins(case, software)
    materialize(case, CORPUS / name, anchor_profiles, software)
    materialize(case, CORPUS / name, migrated_profiles, software)
    migration = slapkit("migrate", *(migrated_profiles / p for p in case.profiles))
    assert migration.returncode == 0, migration.stdout + migration.stderr

    partition = tmp_path / "partition"
    if case.no_anchor and case.status == "not yet":
        check_not_yet(
            case, migration.stdout, profile_of(case, migrated_profiles), partition, tmp_path
        )
        return
    if case.no_anchor:
        assert case.expected_files or case.expected_connection, "no anchor: say what to expect"
        deploy_twice(case, profile_of(case, migrated_profiles), partition, tmp_path)
        check_expected(case, partition)
        return
    master = start_master(tmp_path) if case.master else None
    try:
        if master is not None:
            master.format(partitions=1)
        published = run_anchor(case, anchor_profiles / case.profiles[0], partition, master)
    finally:
        if master is not None:
            stop_master(master)
    anchor = partition.rename(tmp_path / "anchor-partition")

    if case.status == "not yet":
        check_not_yet(
            case, migration.stdout, profile_of(case, migrated_profiles), partition, tmp_path
        )
        return
    deploy_twice(case, profile_of(case, migrated_profiles), partition, tmp_path)
    problems = compare(case, anchor, partition, tmp_path)
    if case.master:
        connection = json.loads((partition / ".slapkit" / "connection.json").read_text())
        secrets = {**passwords(case, anchor), **passwords(case, partition)}
        for key in connection.keys() | published.keys():
            mine, theirs = connection.get(key), published.get(key)
            if secrets.get(mine, mine) != secrets.get(theirs, theirs):
                problems.append(f"published {key}: {mine!r}, the anchor's {theirs!r}")
    assert not problems, "\n".join(problems)


def test_the_comparison_sees_what_differs_and_only_that(tmp_path):
    """The harness itself: known differences pass, anything else is named."""
    software = tmp_path / "software"
    case = Case("self-test", "", "", "", "migrates", binaries=["bin/program"])
    install_standins(case, software)
    program = software / "bin" / "program"

    def partition(name: str, config: str, argument: str, directory_mode: int) -> Path:
        root = tmp_path / name
        (root / "etc" / "service").mkdir(parents=True)
        (root / "etc").chmod(directory_mode)
        (root / "etc" / "a.conf").write_text(config)
        if name == "anchor":  # as the cookbook writes it
            wrapper = root / "etc" / "service" / "s-0123456789abcdef0123456789abcdef"
            wrapper.write_text(f'#!/bin/sh -e\nexec {program} {argument} "$@"\n')
            wrapper.chmod(0o700)
        else:
            wrapper = root / "etc" / "service" / "s-89abcdef01234567"
            wrapper.write_text(
                f"#!/bin/sh\n# Written by slapkit:wrapper for part [s]\nexec '{program}' "
                f"'{argument}'\n"
            )
            wrapper.chmod(0o750)
        return root

    anchor = partition("anchor", "x", "--port=1", 0o750)
    assert compare(case, anchor, partition("same", "x", "--port=1", 0o750), tmp_path) == []
    problems = compare(case, anchor, partition("other", "y", "--port=2", 0o700), tmp_path)
    assert [problem.split(":")[0] for problem in problems] == [
        "etc",
        "etc/a.conf",
        "etc/service/s-<digest>",
    ]
    assert problems[0] == "etc: mode 0o750 -> 0o700"
    assert "'--port=2'" in problems[2] and "'--port=1'" in problems[2]
