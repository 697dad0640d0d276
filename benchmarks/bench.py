"""Reruns that cost nothing: slapkit against slapos.cookbook and buildout's floor.

For each size N the same profile is generated three times:
  slapkit   slapkit:generate.password, slapkit:jinja2, slapkit:wrapper, slapkit:mkdirectory
  cookbook  slapos.cookbook:generate.password, slapos.recipe.template:jinja2,
            slapos.cookbook:wrapper, slapos.cookbook:mkdirectory
  floor     the same sections with a recipe that does nothing (buildout's own cost)
N groups of (password, a config from an inline template that uses the
password through a `key` context, a wrapper in etc/service with hash-files
on that config), plus one mkdirectory part. Each flavour is run first in a
fresh directory, then unchanged, several times, as whole processes; medians
are printed, with the ratios, peak memory and how many files the unchanged
reruns wrote (must be 0). Run by benchmarks/run.sh.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUILDOUT = str(Path(sys.executable).with_name("buildout"))

RECIPES = {
    "slapkit": dict(
        password="slapkit:generate.password",
        template="slapkit:jinja2",
        wrapper="slapkit:wrapper",
        mkdirectory="slapkit:mkdirectory",
    ),
    "cookbook": dict(
        password="slapos.cookbook:generate.password",
        template="slapos.recipe.template:jinja2",
        wrapper="slapos.cookbook:wrapper",
        mkdirectory="slapos.cookbook:mkdirectory",
    ),
    "floor": dict(
        password="slapkit-bench-floor",
        template="slapkit-bench-floor",
        wrapper="slapkit-bench-floor",
        mkdirectory="slapkit-bench-floor",
    ),
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


def profile(flavour: str, size: int) -> str:
    recipes = RECIPES[flavour]
    parts = ["directory"] + [
        f"{kind}-{i}" for i in range(size) for kind in ("pw", "config", "service")
    ]
    text = "[buildout]\nparts =\n" + "".join(f"  {p}\n" for p in parts) + "offline = true\n"
    text += f"""
[directory]
recipe = {recipes["mkdirectory"]}
etc = ${{buildout:directory}}/etc
service = ${{buildout:directory}}/etc/service
srv = ${{buildout:directory}}/srv
"""
    return text + "".join(GROUP.format(i=i, **recipes) for i in range(size))


def prepare(flavour: str, directory: Path) -> None:
    if flavour != "slapkit":
        # The other recipes do not create these; slapkit:mkdirectory does.
        for sub in ("etc/service", "srv"):
            (directory / sub).mkdir(parents=True, exist_ok=True)


def run(directory: Path) -> tuple[float, int]:
    """One whole buildout process: (seconds, peak RSS in KiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [BUILDOUT, "-U", "-q", "-c", "buildout.cfg"],
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, HOME=str(directory)),
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"buildout failed in {directory}:\n{output.decode(errors='replace')}")
    return seconds, usage.ru_maxrss


def state(directory: Path) -> dict[str, tuple[int, int]]:
    skip = {".installed.cfg"}
    result = {}
    for root, _dirs, files in os.walk(directory):
        for name in files:
            if name in skip:
                continue
            info = os.lstat(os.path.join(root, name))
            result[os.path.join(root, name)] = (info.st_ino, info.st_mtime_ns)
    return result


def measure(flavour: str, size: int, first_runs: int, reruns: int, scratch: Path) -> dict:
    firsts, repeats, peaks, written = [], [], [], 0
    for attempt in range(first_runs):
        directory = scratch / f"{flavour}-{size}-{attempt}"
        directory.mkdir()
        (directory / "buildout.cfg").write_text(profile(flavour, size))
        prepare(flavour, directory)
        seconds, peak = run(directory)
        firsts.append(seconds)
        peaks.append(peak)
        if attempt == 0:
            for _ in range(reruns):
                before = state(directory)
                seconds, peak = run(directory)
                after = state(directory)
                repeats.append(seconds)
                peaks.append(peak)
                written += sum(1 for path, key in after.items() if before.get(path) != key)
                written += sum(1 for path in before if path not in after)
        shutil.rmtree(directory)
    return {
        "first": statistics.median(firsts),
        "rerun": statistics.median(repeats),
        "peak_mib": max(peaks) / 1024,
        "written": written,
    }


IMPORT_PROBE = """
import time, zc.buildout.buildout  # loaded before buildout loads any recipe
start = time.perf_counter()
import slapkit.recipes.mkdirectory, slapkit.recipes.wrapper, slapkit.recipes.template
import slapkit.recipes.password, slapkit.recipes.parameters, slapkit.recipes.publish
import slapkit.recipes.promise, slapkit.recipes.plain_template
print((time.perf_counter() - start) * 1000)
"""


def import_milliseconds(runs: int = 5) -> float:
    """Median time to import every slapkit recipe module in a fresh interpreter."""
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", IMPORT_PROBE], check=True, capture_output=True, text=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(times)


def version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "-"


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
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 300])
    parser.add_argument("--first-runs", type=int, default=3)
    parser.add_argument("--reruns", type=int, default=5)
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="slapkit-bench-") as tmp:
        for size in args.sizes:
            numbers = {}
            for flavour in ("floor", "slapkit", "cookbook"):
                print(f"N={size} {flavour}...", file=sys.stderr, flush=True)
                numbers[flavour] = measure(flavour, size, args.first_runs, args.reruns, Path(tmp))
            rows.append((size, numbers))

    header = (
        "| N | parts | flavour | first run (s) | unchanged rerun (s) | peak RSS (MiB) "
        "| files written by reruns |\n|---|---|---|---|---|---|---|\n"
    )
    table = header
    ratios = (
        "| N | rerun slapkit/floor | rerun cookbook/slapkit | first slapkit/floor "
        "| first cookbook/slapkit | slapkit rerun ms/part |\n|---|---|---|---|---|---|\n"
    )
    for size, numbers in rows:
        for flavour in ("floor", "slapkit", "cookbook"):
            n = numbers[flavour]
            table += (
                f"| {size} | {3 * size + 1} | {flavour} | {n['first']:.2f} | {n['rerun']:.2f} "
                f"| {n['peak_mib']:.0f} | {n['written']} |\n"
            )
        s, c, f = numbers["slapkit"], numbers["cookbook"], numbers["floor"]
        ratios += (
            f"| {size} | {s['rerun'] / f['rerun']:.2f}x | {c['rerun'] / s['rerun']:.2f}x "
            f"| {s['first'] / f['first']:.2f}x | {c['first'] / s['first']:.2f}x "
            f"| {1000 * s['rerun'] / (3 * size + 1):.1f} |\n"
        )
    imports = import_milliseconds()
    print()
    print(table)
    print(ratios)
    print(f"importing every slapkit recipe module: {imports:.1f} ms (median of 5)")
    versions = ", ".join(
        f"{name} {version(name)}"
        for name in (
            "slapkit",
            "zc.buildout",
            "setuptools",
            "slapos.cookbook",
            "slapos.recipe.template",
            "Jinja2",
        )
    )
    report = f"""# Benchmark results

Made by `bash benchmarks/run.sh` on {datetime.date.today().isoformat()}.

- Machine: {machine()}
- Python {platform.python_version()}; {versions}
- Medians of {args.first_runs} first runs (each in a fresh directory) and
  {args.reruns} unchanged reruns, each a whole `buildout` process.
- Profile: N groups of (password, Jinja2 config from an inline template
  using the password by `key` context, wrapper in `etc/service` with
  `hash-files` on that config), plus one mkdirectory part. "floor" is the
  same profile with a recipe that does nothing: buildout's own cost.

{table}
Ratios (lower is better for slapkit/floor; higher is better for cookbook/slapkit):

{ratios}
Importing every slapkit recipe module (after zc.buildout, as buildout does):
{imports:.1f} ms, median of 5 fresh interpreters.
"""
    args.results.write_text(report)
    print(f"written to {args.results}")


if __name__ == "__main__":
    main()
