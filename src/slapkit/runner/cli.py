"""``slapkit deploy|status|stop``: the local runner's command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
import xmlrpc.client
from pathlib import Path
from typing import Any, TextIO

from slapkit import __version__
from slapkit.core.partition_state import STATE_DIR
from slapkit.recipes.publish import SHARED_CONNECTION_FILE
from slapkit.runner.deploy import Deployment, deploy, failed_services, read_connection
from slapkit.runner.display import shown, shown_lines
from slapkit.runner.local_master import LocalMaster, MasterInputError, checked_address, read_shared
from slapkit.runner.logs import show_logs
from slapkit.runner.partition import DeployError
from slapkit.runner.promises import run_plugins, run_promises
from slapkit.runner.request import Request, remember, remembered, requested
from slapkit.runner.supervisor import PARTITION_ID, Supervisor


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slapkit",
        description="Deploy a SlapOS instance profile on this machine, as slapgrid would.",
    )
    parser.add_argument("--version", action="version", version=f"slapkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("deploy", help="run buildout, supervise, check promises")
    run.add_argument(
        "profile",
        type=Path,
        nargs="?",
        help="the instance profile (instance.cfg); default: the one deployed last in the partition",
    )
    run.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set one instance parameter, keeping the others of the last deploy; an empty "
        "VALUE removes it (repeatable; wins over --parameters)",
    )
    run.add_argument(
        "--parameters",
        metavar="FILE",
        help="every parameter, replacing the last deploy's: a JSON object or SlapOS instance XML",
    )
    run.add_argument(
        "--software-type",
        metavar="TYPE",
        help="the software type requested (default: the last deploy's, first: default)",
    )
    run.add_argument(
        "--reset",
        action="store_true",
        help="forget the parameters and software type of earlier deploys (the partition "
        "remembers them, as a master does)",
    )
    run.add_argument(
        "--ipv4", default="127.0.0.1", metavar="ADDRESS", help="the partition's IPv4 address"
    )
    run.add_argument(
        "--ipv6",
        metavar="ADDRESS",
        help="the partition's IPv6 address (default: ::1 when the host has it)",
    )
    run.add_argument("--title", default="slapkit-local", help="the instance's title")
    run.add_argument(
        "--shared",
        metavar="FILE",
        help='shared instances: a JSON list of {"reference": ..., "parameters": {...}}',
    )
    run.add_argument(
        "--partition",
        type=Path,
        default=Path("partition"),
        metavar="DIR",
        help="the partition directory (default: ./partition)",
    )
    run.add_argument(
        "--promise-timeout",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="how long failing promises are retried (default: 20)",
    )
    run.add_argument(
        "--oneshot-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long one-shots (etc/run) are waited for to end, so that one that fails "
        "fails the deploy (default: 60; one still running then is said to be running)",
    )
    run.add_argument(
        "-v", "--verbose", action="store_true", help="show buildout's traceback when it fails"
    )
    migrate = commands.add_parser(
        "migrate",
        help="rewrite recipe lines from slapos.cookbook to slapkit, report what differs",
    )
    from slapkit.migration.cli import add_arguments

    add_arguments(migrate)
    for name, text in (("status", "programs and promises"), ("stop", "stop every program")):
        command = commands.add_parser(name, help=text)
        command.add_argument(
            "partition",
            type=Path,
            nargs="?",
            default=Path("partition"),
            metavar="DIR",
            help="the partition directory (default: ./partition, as deploy's)",
        )
    logs = commands.add_parser(
        "logs",
        help="a program's output (all programs' when none is named)",
        epilog="examples: slapkit logs   slapkit logs hello-web -n 50   slapkit logs buildout"
        "   slapkit logs hello-web -f",
    )
    logs.add_argument(
        "program",
        nargs="?",
        help="a program's name (its file in etc/service or etc/run), or buildout for "
        "buildout's own output",
    )
    logs.add_argument(
        "--partition",
        type=Path,
        default=Path("partition"),
        metavar="DIR",
        help="the partition directory (default: ./partition)",
    )
    logs.add_argument(
        "-n", "--lines", type=int, default=20, metavar="N", help="the last N lines (default: 20)"
    )
    logs.add_argument(
        "-f", "--follow", action="store_true", help="then print what is appended, until Ctrl-C"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "migrate":
        try:
            return _migrate(args)
        except KeyboardInterrupt:
            print("\nslapkit: migrate interrupted", file=sys.stderr)
            return 130
    try:
        import supervisor  # noqa: F401
        import zc.buildout  # noqa: F401
    except ImportError as exc:
        print(
            f"slapkit: the runner needs zc.buildout and supervisor ({exc}); "
            "install slapkit[runner]",
            file=sys.stderr,
        )
        return 2
    try:
        return _run(args)
    except KeyboardInterrupt:
        print(file=sys.stderr)  # past the ^C the terminal echoed
        print(f"slapkit: {_interrupted(args)}", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "deploy":
            return _deploy(args)
        if not (args.partition / STATE_DIR).is_dir():
            # A typo must not read as "stopped": the real partition runs on.
            raise DeployError(
                f"{args.partition}: not a partition slapkit deploy made (no {STATE_DIR} in it)"
            )
        if args.command == "status":
            return _status(args.partition)
        if args.command == "logs":
            try:
                return show_logs(
                    args.partition.resolve(),
                    args.program,
                    args.lines,
                    args.follow,
                    lambda line: print(line, flush=True),
                )
            except KeyboardInterrupt:  # how one leaves -f, as tail -f
                return 0
        return _stop(args.partition)
    except DeployError as exc:
        print(f"slapkit: {shown(exc)}", file=sys.stderr)
        return 2
    except xmlrpc.client.Fault as exc:
        print(f"slapkit: supervisord refused: {shown(exc.faultString)}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"slapkit: {shown(where + (exc.strerror or str(exc)))}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"slapkit: {shown(exc)}", file=sys.stderr)
        return 1


def _interrupted(args: argparse.Namespace) -> str:
    """One line for Ctrl-C: what was interrupted, what still runs, what to do."""
    said = f"{args.command} interrupted"
    try:
        supervisor = Supervisor(args.partition.resolve(), PARTITION_ID)
        running = supervisor.is_running()
        count = len(supervisor.process_info()) if running else 0
    except Exception:  # an interrupt is no time for a second error
        return f"{said}; slapkit status {shown(args.partition)} tells what runs"
    where = shown(args.partition)
    if not running:
        still = f"no supervisord runs for {where}"
    else:
        still = f"supervisord still runs for {where}, with {count} programs (slapkit status)"
    if args.command == "deploy":
        return f"{said}; {still}; slapkit deploy again finishes the job"
    return f"{said}; {still}"


def _deploy(args: argparse.Namespace) -> int:
    partition = args.partition.resolve()
    earlier, note = remembered(partition)
    if note:
        print(f"note         {shown(note)}", flush=True)
    request = requested(
        earlier, args.profile, args.software_type, args.parameter, args.parameters, args.reset
    )
    assert request.profile is not None
    master = _local_master(args, request.software_type)
    interactive = sys.stdout.isatty()

    def progress(line: str) -> None:
        line = shown(line)
        if interactive:
            print(f"\r\033[K{line}", end="", flush=True)
        else:
            print(line, flush=True)

    print(f"slapkit deploy {shown(request.profile)} -> {shown(args.partition)}", flush=True)
    print_request(request, sys.stdout)
    try:
        result = deploy(
            request.profile,
            args.partition,
            request.parameters,
            progress,
            args.promise_timeout,
            args.verbose,
            master,
            args.oneshot_timeout,
            lambda: remember(partition, request),
        )
    finally:
        if interactive:
            print("\r\033[K", end="")
    print_summary(result, sys.stdout)
    return 0 if result.ok else 1


def print_request(request: Request, out: TextIO) -> None:
    """The profile, software type and parameters a deploy uses (or used last)."""
    print(f"profile      {shown(request.profile)}", file=out)
    print(f"type         {shown(request.software_type)}", file=out)
    print(
        "parameters   " + ("" if request.parameters else "(none: the profile's defaults)"), file=out
    )
    for name, value in sorted(request.parameters.items()):
        print(f"  {shown(name)} = {shown(_text(value))}", file=out)


def _local_master(args: argparse.Namespace, software_type: str) -> LocalMaster:
    software_type = software_type.strip()
    if shown(software_type) != software_type:
        # A name: it would make lines of its own in buildout's output and log.
        raise DeployError(
            f"--software-type {shown(repr(software_type))}: holds a control character"
        )
    try:
        return LocalMaster(
            software_type=software_type or "default",
            ipv4=checked_address("--ipv4", args.ipv4, 4),
            ipv6=None if args.ipv6 is None else checked_address("--ipv6", args.ipv6, 6),
            title=args.title,
            shared=read_shared(args.shared) if args.shared else [],
        )
    except MasterInputError as exc:
        raise DeployError(str(exc)) from None


def _migrate(args: argparse.Namespace) -> int:
    from slapkit.migration.cli import run

    return run(args)


def _status(partition: Path) -> int:
    supervisor = Supervisor(partition, PARTITION_ID)
    running = supervisor.is_running()
    if not running:
        print(f"{shown(supervisor.partition)}: not running")
    else:
        print(f"partition    {shown(supervisor.partition)}")
    request, note = remembered(supervisor.partition)
    if note:
        print(f"note         {shown(note)}")
    if request.profile is not None:
        print_request(request, sys.stdout)
    if not running:
        return 3
    now = time.time()
    print("programs")
    for info in sorted(supervisor.process_info(), key=lambda i: i["name"]):
        uptime = (
            f"up {int(now - info['start'])}s, pid {info['pid']}"
            if info["statename"] == "RUNNING"
            else ""
        )
        if info["statename"] == "EXITED":
            uptime = f"exit {info['exitstatus']}"
        print(f"  {shown(info['statename']):9} {shown(info['name']):40} {uptime}")
    failures = failed_services(supervisor)
    skipped = supervisor.skipped()
    for line in skipped:
        print(f"  SKIPPED   {shown(line)}")
    for name, log in failures:
        print(f"  FAILED    {shown(name)}")
        for line in shown_lines(log):
            print(f"    | {line}")
    promises = run_promises(supervisor.partition)
    plugins, not_run = run_plugins(supervisor.partition)
    promises += plugins
    print("promises")
    if not_run:
        print(f"  note      {shown(not_run)}")
    for promise in promises:
        state = "kept" if promise.kept else "FAILING"
        print(
            f"  {state:9} {shown(promise.name)}"
            + ("" if promise.kept else f": {shown(promise.message)}")
        )
    print_connection(
        read_connection(supervisor.partition),
        read_connection(supervisor.partition, SHARED_CONNECTION_FILE),
        sys.stdout,
    )
    return 0 if not failures and not skipped and all(p.kept for p in promises) else 1


def _stop(partition: Path) -> int:
    supervisor = Supervisor(partition, PARTITION_ID)
    if not supervisor.is_running():
        print(f"{shown(supervisor.partition)}: not running")
        return 0
    count = len(supervisor.process_info())
    note = supervisor.shutdown()
    print(f"{shown(supervisor.partition)}: stopped supervisord and its {count} programs")
    if note:
        print(f"note: {shown(note)}")
    return 0


def print_connection(connection: dict[str, Any], shared: dict[str, Any], out: TextIO) -> None:
    """The published connection parameters, the partition's and each shared
    instance's, values shown with control characters escaped."""
    print("connection   " + ("" if connection else "(nothing published)"), file=out)
    for key, value in sorted(connection.items()):
        print(f"  {shown(key)} = {shown(_text(value))}", file=out)
    for reference, values in sorted(shared.items()):
        if not isinstance(values, dict):
            continue
        print(f"shared       {shown(reference)}", file=out)
        for key, value in sorted(values.items()):
            print(f"  {shown(key)} = {shown(_text(value))}", file=out)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def print_summary(result: Deployment, out: TextIO) -> None:
    """The deploy's summary; every piece of user data in it (values, names,
    output) is shown with its control characters escaped (``shown``)."""

    def write(text: str = "") -> None:
        print(text, file=out)

    write()
    write(f"partition    {shown(result.partition)}")
    for note in result.notes:
        write(f"note         {shown(note)}")
    for warning in result.warnings:
        write(f"warning      {shown(warning)}")
    if not result.buildout_ok:
        write("buildout     FAILED")
        for line in shown_lines(result.buildout_error):
            write(f"  {line}")
        return
    write(f"files        {len(result.files_changed)} changed")
    for line in result.files_changed:
        write(f"  {shown(line)}")
    restarts = len(result.restarted)
    write(
        f"services     {len(result.started)} started, {restarts} restarted, "
        f"{len(result.stopped)} stopped"
    )
    for label, names in (
        ("started", result.started),
        ("restarted", result.restarted),
        ("stopped", result.stopped),
    ):
        for name in names:
            write(f"  {label:9} {shown(name)}")
    for name, log in result.failed_services:
        write(f"  FAILED    {shown(name)}")
        for line in shown_lines(log):
            write(f"    | {line}")
    for line in result.skipped:
        write(f"  SKIPPED   {shown(line)}")
    kept = sum(p.kept for p in result.promises)
    write(f"promises     {kept} kept, {len(result.promises) - kept} failing")
    for promise in result.promises:
        if promise.kept:
            write(f"  kept      {shown(promise.name)}")
        else:
            write(f"  FAILING   {shown(promise.name)}: {shown(promise.message)}")
    print_connection(result.connection, result.shared_connection, out)
    write(f"{'ok' if result.ok else 'NOT OK'} in {result.seconds:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
