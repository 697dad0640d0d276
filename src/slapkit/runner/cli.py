"""``slapkit deploy|status|stop``: the local runner's command line."""

from __future__ import annotations

import argparse
import os
import sys
import xmlrpc.client
from pathlib import Path
from typing import Any

from slapkit import __version__
from slapkit.core.partition_state import STATE_DIR, owned_directory
from slapkit.recipes.publish import SHARED_CONNECTION_FILE
from slapkit.runner.deploy import deploy_resolved, failed_services, read_connection
from slapkit.runner.display import shown
from slapkit.runner.last_deploy import began, ended
from slapkit.runner.last_deploy import problem as last_deploy_problem
from slapkit.runner.local_master import (
    LocalMaster,
    MasterInputError,
    checked_address,
    read_requested,
    read_shared,
)
from slapkit.runner.logs import show_logs
from slapkit.runner.partition import DeployError
from slapkit.runner.port_owners import checked_owners
from slapkit.runner.promises import promise_paths, run_plugins, run_promises
from slapkit.runner.report import (
    JSON_VERSION,
    Status,
    deployment_json,
    print_json,
    print_status,
    print_summary,
    status_json,
)
from slapkit.runner.request import (
    masked,
    remember,
    remembered,
    requested,
    secret_parameters,
)
from slapkit.runner.supervisor import PARTITION_ID, Supervisor


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slapkit",
        description="Deploy a SlapOS instance profile on this machine, as slapgrid would.",
    )
    parser.add_argument("--version", action="version", version=f"slapkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = _command(
        commands,
        "deploy",
        "run buildout, supervise, check promises",
        "slapkit deploy examples/hello-web/instance.cfg -p port=8081",
        "slapkit deploy -p greeting=Hi          (the same instance, one parameter changed)",
        "slapkit deploy --reset --partition /srv/test",
    )
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
        "--software-release",
        metavar="DIR",
        help="the software release's directory, which the partition's software_release "
        "links to as under slapgrid (default: the last deploy's, first: a directory the "
        "runner makes, whose buildout.cfg names the profile; '' goes back to that one)",
    )
    run.add_argument(
        "--requested",
        metavar="FILE",
        help='what the instances the profile requests publish: a JSON object {"NAME": '
        '{"url": "..."}} (default: the last deploy\'s; the runner plays the master)',
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
        "-v",
        "--verbose",
        action="store_true",
        help="show buildout's own output as it runs, and its traceback when it fails",
    )
    _output_options(run)
    migrate = _command(
        commands,
        "migrate",
        "rewrite recipe lines from slapos.cookbook to slapkit, report what differs",
        "slapkit migrate --check instance.cfg.in",
        "slapkit migrate instance.cfg.in instance-*.cfg.in",
        "slapkit migrate --output migrated/ software/*/instance*.cfg*",
    )
    from slapkit.migration.cli import add_arguments

    add_arguments(migrate)
    for name, text in (
        ("status", "programs, promises, the request and what was published"),
        ("stop", "stop every program and supervisord"),
    ):
        command = _command(
            commands, name, text, f"slapkit {name}", f"slapkit {name} /srv/test/partition"
        )
        command.add_argument(
            "partition",
            type=Path,
            nargs="?",
            metavar="DIR",
            help="the partition directory (default: ./partition, as deploy's)",
        )
        command.add_argument(
            "--partition",
            type=Path,
            dest="partition_option",
            metavar="DIR",
            help="the same, spelled as deploy's and logs' option",
        )
        if name == "status":
            _output_options(command)
    logs = _command(
        commands,
        "logs",
        "a program's output (all programs' when none is named)",
        "slapkit logs",
        "slapkit logs hello-web -n 50",
        "slapkit logs hello-web -f          (then what it writes, until Ctrl-C)",
        "slapkit logs buildout              (the last buildout run's output)",
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


def _output_options(parser: argparse.ArgumentParser) -> None:
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "-q", "--quiet", action="store_true", help="only the problems, and the result line"
    )
    output.add_argument(
        "--json",
        action="store_true",
        help="one JSON document on stdout (its shape is versioned: see the README)",
    )


def _command(commands: Any, name: str, text: str, *examples: str) -> argparse.ArgumentParser:
    """A subcommand whose help ends with examples."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=text,
        description=text[:1].upper() + text[1:] + ".",
        epilog="examples:\n" + "\n".join(f"  {example}" for example in examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if args.command in ("status", "stop"):
        if args.partition is not None and args.partition_option is not None:
            unknown.append(f"--partition {args.partition_option} (DIR was given)")
        args.partition = args.partition or args.partition_option or Path("partition")
    if unknown:
        # The subcommand's usage, not the top-level one: that is where the
        # options a user mistyped are.
        subcommands = next(
            action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
        )
        subcommands.choices[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
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
        state = args.partition / STATE_DIR
        if not state.is_dir():
            # A typo must not read as "stopped": the real partition runs on.
            raise DeployError(
                f"{args.partition}: not a partition slapkit deploy made (no {STATE_DIR} in it)"
            )
        if not owned_directory(str(state)):
            # Nothing is read or written through a link planted in its place.
            raise DeployError(
                f"{state}: not a directory of this user's own (a symlink?): not used; remove it"
            )
        if args.command == "status":
            return _status(args)
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
    except BrokenPipeError:
        # stdout closed early (slapkit status | head): nothing more to say.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes it at exit
        return 141
    except DeployError as exc:
        return _failed(args, str(exc), 2)
    except xmlrpc.client.Fault as exc:
        return _failed(args, f"supervisord refused: {exc.faultString}", 1)
    except OSError as exc:
        # A file of the partition the runner could not read or write: the
        # partition is unusable, as when it cannot be made (exit 2 too).
        where = f"{exc.filename}: " if exc.filename else ""
        return _failed(args, where + (exc.strerror or str(exc)), 2)
    except RuntimeError as exc:
        return _failed(args, str(exc), 1)


def _failed(args: argparse.Namespace, message: str, status: int) -> int:
    """One line on stderr; with --json, a document saying so on stdout too."""
    print(f"slapkit: {shown(message)}", file=sys.stderr)
    if getattr(args, "json", False):
        document = {
            "format": f"slapkit-{args.command}",
            "version": JSON_VERSION,
            "ok": False,
            "error": message,
        }
        print_json(document, sys.stdout)
    return status


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
        programs = "program" if count == 1 else "programs"
        still = f"supervisord still runs for {where}, with {count} {programs} (slapkit status)"
    if args.command == "deploy":
        return f"{said}; {still}; slapkit deploy again finishes the job"
    return f"{said}; {still}"


def _deploy(args: argparse.Namespace) -> int:
    partition = args.partition.resolve()
    talk = not (args.quiet or args.json)
    # -v: buildout's own lines, each kept on the terminal, not one progress line.
    interactive = talk and sys.stdout.isatty() and not args.verbose
    made: dict[str, Any] = {}

    def progress(line: str) -> None:
        line = shown(line)
        if interactive:
            print(f"\r\033[K{line}", end="", flush=True)
        elif talk:
            print(line, flush=True)

    def resolve() -> tuple[Path, dict[str, Any], LocalMaster]:
        # Under the partition's deploy lock: from what the deploy before
        # this one left, not from what was there before waiting for it.
        earlier, note = remembered(partition)
        try:
            request = requested(
                earlier,
                args.profile,
                args.software_type,
                args.parameter,
                args.parameters,
                args.reset,
                Path(args.software_release) if args.software_release else None,
                _requested(args),
            )
            if args.software_release == "":
                request.software_release = None  # back to the runner's own
        except DeployError as exc:
            raise DeployError(f"{exc} ({note})" if note else str(exc)) from None
        assert request.profile is not None
        master = _local_master(args, request.software_type, request.software_release)
        master.requested = request.requested
        made.update(request=request, note=note)
        if talk:
            print(f"slapkit deploy {shown(request.profile)} -> {shown(args.partition)}", flush=True)
        return request.profile, request.parameters, master

    def prepared() -> None:
        remember(partition, made["request"])
        began(partition)

    try:
        result = deploy_resolved(
            args.partition,
            resolve,
            progress,
            args.promise_timeout,
            args.verbose,
            args.oneshot_timeout,
            prepared,
            lambda result: ended(partition, result.buildout_ok),
        )
    finally:
        if interactive:
            print("\r\033[K", end="")
    if made["note"]:
        result.notes.insert(0, made["note"])
    release = made["request"].software_release
    if release is not None and not (release / "buildout.cfg").is_file():
        result.notes.append(
            f"the software release {release} has no buildout.cfg (slapgrid's has one; "
            "profiles that hash software_release/buildout.cfg fail without it)"
        )
    # After the run: a schema's writeOnly parameters are known then.
    request = masked(made["request"], secret_parameters(partition))
    if args.json:
        print_json(deployment_json(result, request), sys.stdout)
    else:
        print_summary(result, sys.stdout, args.quiet, request)
    return 0 if result.ok else 1


def _requested(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.requested is None:
        return None
    try:
        return read_requested(args.requested)
    except MasterInputError as exc:
        raise DeployError(str(exc)) from None


def _local_master(
    args: argparse.Namespace, software_type: str, software_release: Path | None = None
) -> LocalMaster:
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
            software_release=software_release,
        )
    except MasterInputError as exc:
        raise DeployError(str(exc)) from None


def _migrate(args: argparse.Namespace) -> int:
    from slapkit.migration.cli import run

    return run(args)


def _status(args: argparse.Namespace) -> int:
    status = gather_status(args.partition)
    if args.json:
        print_json(status_json(status), sys.stdout)
    else:
        print_status(status, sys.stdout, args.quiet)
    if not status.running:
        return 3
    return 0 if status.ok else 1


def gather_status(partition: Path) -> Status:
    supervisor = Supervisor(partition, PARTITION_ID)
    request, note = remembered(supervisor.partition)
    request = masked(request, secret_parameters(supervisor.partition))
    last = last_deploy_problem(supervisor.partition)
    status = Status(
        str(supervisor.partition),
        supervisor.is_running(),
        request if request.profile is not None else None,
        [note for note in (note, last) if note],
    )
    status.last_deploy_ok = last is None
    if not status.running:
        return status
    for info in sorted(supervisor.process_info(), key=lambda i: i["name"]):
        status.programs.append(
            {
                "name": info["name"],
                "state": info["statename"],
                "pid": info["pid"] or None,
                "start": info["start"] or None,
                "exit_status": info["exitstatus"] if info["statename"] == "EXITED" else None,
            }
        )
    status.failed = failed_services(supervisor)
    status.skipped = supervisor.skipped()
    status.promises = checked_owners(
        run_promises(supervisor.partition),
        {path.name: path for path in promise_paths(supervisor.partition)},
        supervisor.partition,
    )
    plugins, not_run = run_plugins(supervisor.partition, anomalies=True)
    status.promises += plugins
    if not_run:
        status.notes.append(not_run)
    status.connection = read_connection(supervisor.partition)
    shared = read_connection(supervisor.partition, SHARED_CONNECTION_FILE)
    status.shared_connection = {
        reference: values for reference, values in shared.items() if isinstance(values, dict)
    }
    return status


def _stop(partition: Path) -> int:
    supervisor = Supervisor(partition, PARTITION_ID)
    orphans = supervisor.stop_orphan_supervisords()
    if not supervisor.is_running():
        print(f"{shown(supervisor.partition)}: not running")
        note = None
    else:
        count = len(supervisor.process_info())
        note = supervisor.shutdown()
        programs = "program" if count == 1 else "programs"
        print(f"{shown(supervisor.partition)}: stopped supervisord and its {count} {programs}")
    for line in orphans + ([note] if note else []):
        print(f"note: {shown(line)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
