"""Reruns that cost nothing: slapkit against slapos.cookbook and buildout's floor.

For each size N one profile is generated per flavour:
  floor          the same sections with recipes that do nothing (buildout's
                 own cost; its switch runs the sub-buildout and nothing else)
  floor+jinja2   the same do-nothing recipes from a distribution that depends
                 on Jinja2, as slapkit does: zc.buildout resolves a recipe's
                 dependencies for every part, so this is the floor of any
                 recipe that renders with Jinja2
  slapkit        slapkit's recipes
  slapkit+ext    the same with ``[buildout] extensions = slapkit``
  cookbook       slapos.cookbook and slapos.recipe.template (the "full"
                 environment only)
N groups of (password, a config from an inline Jinja2 template using the
password through a ``key`` context, a wrapper in etc/service with
hash-files on that config), one mkdirectory part, and the recipes of the
parity issues: slapconfiguration.jsonschema on a software.cfg.json (the
runner's answer file), a plain template using its values, and a
switch-softwaretype running a sub-profile of one more group. The cookbook's
slapconfiguration and switch-softwaretype need SlapOS's zc.buildout fork:
its flavour uses the floor's for those two.

Each flavour runs first in a fresh directory, then unchanged, as whole
processes, in two environments: "slim" (slapkit and the floor) and "full"
(beside slapos.cookbook, slapos.recipe.template and slapos.core). Medians,
ratios, cost per part, peak memory, files the unchanged reruns wrote (must
be 0) and the writes of .installed.cfg are printed; then slapkit deploy's
own overhead on examples/hello-web (everything but buildout). Run by
benchmarks/run.sh.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECIPES = {
    "slapkit": dict(
        password="slapkit:generate.password",
        template="slapkit:jinja2",
        wrapper="slapkit:wrapper",
        mkdirectory="slapkit:mkdirectory",
        plain="slapkit:template",
        configuration="slapkit:slapconfiguration.jsonschema",
        switch="slapkit:switch-softwaretype",
    ),
    "cookbook": dict(
        password="slapos.cookbook:generate.password",
        template="slapos.recipe.template:jinja2",
        wrapper="slapos.cookbook:wrapper",
        mkdirectory="slapos.cookbook:mkdirectory",
        plain="slapos.recipe.template",
        configuration="slapkit-bench-floor",
        switch="slapkit-bench-floor:switch",
    ),
    "floor": dict(
        password="slapkit-bench-floor",
        template="slapkit-bench-floor",
        wrapper="slapkit-bench-floor",
        mkdirectory="slapkit-bench-floor",
        plain="slapkit-bench-floor",
        configuration="slapkit-bench-floor",
        switch="slapkit-bench-floor:switch",
    ),
}
RECIPES["slapkit+ext"] = RECIPES["slapkit"]
RECIPES["floor+jinja2"] = {
    kind: recipe.replace("slapkit-bench-floor", "slapkit-bench-floor-jinja2")
    for kind, recipe in RECIPES["floor"].items()
}

GROUP = """
[pw-{i}]
recipe = {password}
storage-path = ${{directory:srv}}/pw-{i}

[config-{i}]
recipe = {template}
output = ${{directory:etc}}/config-{i}.conf
context = key password pw-{i}:passwd
inline =
  [service]
  name = service-{i}
  password = {{{{ password }}}}

[service-{i}]
recipe = {wrapper}
command-line = /bin/sleep 3600
wrapper-path = ${{directory:service}}/service-{i}
hash-files = ${{config-{i}:output}}
"""

ROOT = """
[slap-connection]
instance-file = ${{buildout:directory}}/instance.json
server-url =

[slap-configuration]
recipe = {configuration}
url = ${{slap-connection:server-url}}
jsonschema = ${{buildout:directory}}/software.cfg.json
set-default = all
unstringify = all
{configuration_literals}
[plain-template]
recipe = {plain}
output = ${{directory:etc}}/plain.conf
inline =
  port = ${{slap-configuration:configuration.port}}
  type = ${{slap-configuration:slap-software-type}}

[profiles]
default = ${{buildout:directory}}/sub.cfg

[switch-softwaretype]
recipe = {switch}
default = profiles:default
profile = ${{profiles:default}}
"""

SUB = """[buildout]
parts = pw-sub config-sub service-sub
offline = true

[directory]
etc = ${{buildout:directory}}/etc
service = ${{buildout:directory}}/etc/service
srv = ${{buildout:directory}}/srv
""" + GROUP.replace("-{i}", "-sub")

SOFTWARE_JSON = {
    "serialisation": "json-in-xml",
    "software-type": {"default": {"software-type": "default", "request": "input.json"}},
}
INPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "port": {"type": "integer", "default": 8080},
        "name": {"type": "string", "default": "bench"},
    },
}
ANSWER = {
    "parameter-dict": {
        "_": json.dumps({"port": "8081"}),
        "slap_software_type": "default",
        "ip_list": [["lo", "127.0.0.1"]],
    },
    "state": "started",
}


def profile(flavour: str, size: int) -> str:
    recipes = RECIPES[flavour]
    parts = (
        ["directory"]
        + [f"{kind}-{i}" for i in range(size) for kind in ("pw", "config", "service")]
        + ["plain-template", "switch-softwaretype"]
    )
    text = "[buildout]\nparts =\n" + "".join(f"  {p}\n" for p in parts) + "offline = true\n"
    if flavour == "slapkit+ext":
        text += "extensions = slapkit\n"
    text += f"""
[directory]
recipe = {recipes["mkdirectory"]}
etc = ${{buildout:directory}}/etc
service = ${{buildout:directory}}/etc/service
srv = ${{buildout:directory}}/srv
"""
    literals = (
        ""
        if recipes["configuration"].startswith("slapkit:")
        else "configuration.port = 8081\nslap-software-type = default\n"
    )
    text += ROOT.format(configuration_literals=literals, **recipes)
    return text + "".join(GROUP.format(i=i, **recipes) for i in range(size))


def prepare(flavour: str, size: int, directory: Path) -> None:
    (directory / "buildout.cfg").write_text(profile(flavour, size))
    (directory / "sub.cfg").write_text(SUB.format(**RECIPES[flavour]))
    (directory / "instance.json").write_text(json.dumps(ANSWER))
    (directory / "software.cfg.json").write_text(json.dumps(SOFTWARE_JSON))
    (directory / "input.json").write_text(json.dumps(INPUT_SCHEMA))
    if not flavour.startswith("slapkit"):
        # The other recipes do not create these; slapkit:mkdirectory does.
        for sub in ("etc/service", "srv"):
            (directory / sub).mkdir(parents=True, exist_ok=True)


def run(buildout: str, directory: Path) -> tuple[float, int]:
    """One whole buildout process: (seconds, peak RSS in KiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [buildout, "-U", "-q", "-c", "buildout.cfg"],
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, HOME=str(directory)),
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"buildout failed in {directory}:\n{output.decode(errors='replace')}")
    return seconds, usage.ru_maxrss


BOOKKEEPING = (".installed.cfg", ".installed-switch-softwaretype.cfg")


def state(directory: Path) -> dict[str, tuple[int, int]]:
    result = {}
    for root, _dirs, files in os.walk(directory):
        for name in files:
            info = os.lstat(os.path.join(root, name))
            result[os.path.join(root, name)] = (info.st_ino, info.st_mtime_ns)
    return result


def timed_run(buildout: str, directory: Path) -> tuple[float, int]:
    # Dirty pages an earlier run left (a first run writes megabytes of
    # .installed.cfg) are written back now, not during the run timed next.
    os.sync()
    return run(buildout, directory)


def measure(
    buildout: str, flavours: list[str], size: int, firsts_n: int, reruns: int, scratch: Path
) -> dict[str, dict]:
    """Each flavour's numbers at ``size``. Runs alternate between flavours
    (first runs, then reruns, round after round), so a slow spell of the
    machine falls on all of them alike."""
    firsts: dict[str, list[float]] = {flavour: [] for flavour in flavours}
    repeats: dict[str, list[float]] = {flavour: [] for flavour in flavours}
    peaks: dict[str, list[int]] = {flavour: [] for flavour in flavours}
    written = dict.fromkeys(flavours, 0)
    records = dict.fromkeys(flavours, 0)
    kept = {flavour: scratch / f"{flavour}-{size}-0" for flavour in flavours}
    for attempt in range(firsts_n):
        for flavour in flavours:
            directory = scratch / f"{flavour}-{size}-{attempt}"
            directory.mkdir()
            prepare(flavour, size, directory)
            seconds, peak = timed_run(buildout, directory)
            firsts[flavour].append(seconds)
            peaks[flavour].append(peak)
            if attempt:
                shutil.rmtree(directory)
    for _ in range(reruns):
        for flavour in flavours:
            before = state(kept[flavour])
            seconds, peak = timed_run(buildout, kept[flavour])
            after = state(kept[flavour])
            repeats[flavour].append(seconds)
            peaks[flavour].append(peak)
            for path, key in after.items():
                if before.get(path) != key:
                    if os.path.basename(path) in BOOKKEEPING:
                        records[flavour] += 1
                    else:
                        written[flavour] += 1
            written[flavour] += sum(1 for path in before if path not in after)
    for directory in kept.values():
        shutil.rmtree(directory)
    return {
        flavour: {
            "first": statistics.median(firsts[flavour]),
            "rerun": statistics.median(repeats[flavour]),
            "peak_mib": max(peaks[flavour]) / 1024,
            "written": written[flavour],
            "records": records[flavour],
        }
        for flavour in flavours
    }


def deploy_overhead(python: str, runs: int) -> tuple[float, float]:
    """slapkit deploy of examples/hello-web, unchanged: (whole, buildout) seconds, medians."""
    probe = """
import json, sys, time
from pathlib import Path
from slapkit.runner.deploy import deploy
from slapkit.runner.supervisor import Supervisor
profile, partition, runs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
result = deploy(profile, partition, {"port": sys.argv[4]}, promise_wait=20)
assert result.ok, result
samples = []
for _ in range(runs):
    result = deploy(profile, partition, {"port": sys.argv[4]}, promise_wait=20)
    assert result.ok and not result.files_changed, result
    samples.append((result.seconds, result.buildout_seconds))
Supervisor(partition).shutdown()
print(json.dumps(samples))
"""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    example = Path(__file__).resolve().parent.parent / "examples" / "hello-web" / "instance.cfg"
    with tempfile.TemporaryDirectory(prefix="slapkit-bench-deploy-") as tmp:
        output = subprocess.run(
            [python, "-c", probe, str(example), str(Path(tmp) / "partition"), str(runs), str(port)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    samples = json.loads(output.strip().splitlines()[-1])
    return (
        statistics.median(whole for whole, _ in samples),
        statistics.median(build for _, build in samples),
    )


def version(python: str, name: str) -> str:
    return subprocess.run(
        [
            python,
            "-c",
            "import importlib.metadata as m, sys\n"
            "try: print(m.version(sys.argv[1]))\n"
            "except m.PackageNotFoundError: print('-')",
            name,
        ],
        capture_output=True,
        text=True,
    ).stdout.strip()


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, {platform.system()} {platform.release()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--first-runs", type=int, default=3)
    parser.add_argument("--reruns", type=int, default=5)
    parser.add_argument(
        "--large", type=int, default=1000, help="from this N: 1 first run, 3 reruns, no cookbook"
    )
    parser.add_argument("--slim-python", default=None, help="the slim environment's python")
    parser.add_argument("--deploy-runs", type=int, default=5)
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()

    environments = {"full": sys.executable}
    if args.slim_python:  # (not resolved: a venv's python is a symlink out of it)
        environments = {"slim": os.path.abspath(args.slim_python), **environments}
    rows = []
    with tempfile.TemporaryDirectory(prefix="slapkit-bench-") as tmp:
        for env_name, python in environments.items():
            buildout = str(Path(python).with_name("buildout"))
            flavours = ["floor", "floor+jinja2", "slapkit", "slapkit+ext"]
            if version(python, "slapos.cookbook") != "-":
                flavours.append("cookbook")
            # Untimed: the first process of an environment reads its files
            # from disk (zc.buildout hashes site-packages for pip-installed recipes).
            measure(buildout, flavours, 1, 1, 1, Path(tmp))
            for size in args.sizes:
                large = size >= args.large
                chosen = [f for f in flavours if not (f == "cookbook" and large)]
                print(f"{env_name} N={size}: {', '.join(chosen)}...", file=sys.stderr, flush=True)
                numbers = measure(
                    buildout,
                    chosen,
                    size,
                    1 if large else args.first_runs,
                    3 if large else args.reruns,
                    Path(tmp),
                )
                rows.append((env_name, size, numbers))

    parts_of = lambda size: 3 * size + 6  # noqa: E731 - groups, directory, root's and sub's
    table = (
        "| env | N | parts | flavour | first run (s) | unchanged rerun (s) | peak RSS (MiB) "
        "| files written by reruns | .installed*.cfg writes by reruns |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    ratios = (
        "| env | N | rerun slapkit/floor | rerun slapkit+ext/floor | first slapkit/floor "
        "| first slapkit+ext/floor | rerun cookbook/slapkit | slapkit rerun ms/part "
        "| floor rerun ms/part |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    for env_name, size, numbers in rows:
        for flavour, n in numbers.items():
            table += (
                f"| {env_name} | {size} | {parts_of(size)} | {flavour} | {n['first']:.2f} "
                f"| {n['rerun']:.2f} | {n['peak_mib']:.0f} | {n['written']} | {n['records']} |\n"
            )
        f, s, e = numbers["floor"], numbers["slapkit"], numbers["slapkit+ext"]
        cookbook = (
            f"{numbers['cookbook']['rerun'] / s['rerun']:.1f}x" if "cookbook" in numbers else "-"
        )
        ratios += (
            f"| {env_name} | {size} | {s['rerun'] / f['rerun']:.2f}x "
            f"| {e['rerun'] / f['rerun']:.2f}x | {s['first'] / f['first']:.2f}x "
            f"| {e['first'] / f['first']:.2f}x | {cookbook} "
            f"| {1000 * s['rerun'] / parts_of(size):.2f} "
            f"| {1000 * f['rerun'] / parts_of(size):.2f} |\n"
        )
    dependency = (
        "| env | N | rerun floor+jinja2/floor | first floor+jinja2/floor "
        "| rerun slapkit/floor+jinja2 | first slapkit/floor+jinja2 |\n|---|---|---|---|---|---|\n"
    )
    for env_name, size, numbers in rows:
        f, d, s = numbers["floor"], numbers["floor+jinja2"], numbers["slapkit"]
        dependency += (
            f"| {env_name} | {size} | {d['rerun'] / f['rerun']:.2f}x "
            f"| {d['first'] / f['first']:.2f}x | {s['rerun'] / d['rerun']:.2f}x "
            f"| {s['first'] / d['first']:.2f}x |\n"
        )
    print("slapkit deploy examples/hello-web...", file=sys.stderr, flush=True)
    whole, build = deploy_overhead(sys.executable, args.deploy_runs)
    overhead = (
        f"`slapkit deploy examples/hello-web`, unchanged, median of {args.deploy_runs}: "
        f"{whole:.2f} s in all, of which buildout {build:.2f} s: the runner's own overhead "
        f"(supervisord, promises, summary) {whole - build:.2f} s."
    )
    print(table)
    print(ratios)
    print(dependency)
    print(overhead)
    versions = {
        env_name: ", ".join(
            f"{name} {version(python, name)}"
            for name in (
                "slapkit",
                "zc.buildout",
                "setuptools",
                "Jinja2",
                "slapos.cookbook",
                "slapos.recipe.template",
                "slapos.core",
            )
        )
        for env_name, python in environments.items()
    }
    report = f"""# Benchmark results

Made by `bash benchmarks/run.sh` on {datetime.date.today().isoformat()}.

- Machine: {machine()}; Python {platform.python_version()}.
- Environments: {"; ".join(f"**{k}**: {v}" for k, v in versions.items())}.
- Medians of {args.first_runs} first runs (each in a fresh directory) and
  {args.reruns} unchanged reruns (from N = {args.large}: 1 and 3, and no
  cookbook), each a whole `buildout` process, the flavours taking turns
  run after run, each run after a `sync` (writing back what the one
  before left is not counted against the next).
- Profile: N groups of (password, Jinja2 config from an inline template
  using the password by `key` context, wrapper in `etc/service` with
  `hash-files` on that config), one mkdirectory part,
  slapconfiguration.jsonschema on a software.cfg.json, a plain template of
  its values and a switch-softwaretype running a sub-profile of one more
  group. "floor": recipes that do nothing (its switch runs the sub-buildout,
  nothing else): buildout's own cost. "floor+jinja2": the same recipes from
  a distribution that requires Jinja2, as slapkit does. "slapkit+ext": slapkit with
  `[buildout] extensions = slapkit`. The cookbook's slapconfiguration and
  switch-softwaretype need SlapOS's zc.buildout fork: its flavour uses the
  floor's for those two.

{table}
Ratios (lower is better for slapkit/floor; higher is better for cookbook/slapkit):

{ratios}
What zc.buildout alone charges a recipe distribution for depending on Jinja2
(it resolves the recipe's dependencies for each part; the extension does it
once per run), and slapkit without the extension measured from that floor:

{dependency}
{overhead}
"""
    args.results.write_text(report)
    print(f"written to {args.results}")


if __name__ == "__main__":
    main()
