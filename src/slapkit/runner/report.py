"""What ``slapkit deploy`` and ``slapkit status`` print: the text report
(every piece of user data with its control characters escaped, ``shown``),
``-q``'s problems-only form, and ``--json``'s one document.

The JSON documents' shape is versioned (``"version": 1``); a field is only
ever added within a version. See the README's "The local runner".
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from slapkit.runner.deploy import Deployment
from slapkit.runner.display import shown, shown_lines
from slapkit.runner.promises import PromiseResult
from slapkit.runner.request import Request
from slapkit.runner.supervisor import WATCHDOG_MARK


def without_watchdog(name: str) -> str:
    """``web`` for ``web-on-watch``, the process name of a service."""
    return name.removesuffix(WATCHDOG_MARK)


JSON_VERSION = 1


@dataclass
class Status:
    """What ``slapkit status`` found."""

    partition: str
    running: bool
    request: Request | None
    notes: list[str] = field(default_factory=list)
    programs: list[dict[str, Any]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    promises: list[PromiseResult] = field(default_factory=list)
    connection: dict[str, Any] = field(default_factory=dict)
    shared_connection: dict[str, Any] = field(default_factory=dict)
    # False when the last deploy failed or was interrupted (see last_deploy).
    last_deploy_ok: bool = True

    @property
    def ok(self) -> bool:
        return (
            self.running
            and self.last_deploy_ok
            and not self.failed
            and not self.skipped
            and all(p.kept or p.skipped for p in self.promises)
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def print_request(request: Request, out: TextIO) -> None:
    """The profile, software type and parameters a deploy uses (or used last)."""
    print(f"profile      {shown(request.profile)}", file=out)
    print(f"type         {shown(request.software_type)}", file=out)
    if request.software_release is not None:
        print(f"software     {shown(request.software_release)}", file=out)
    none = "" if request.parameters else "(none: the profile's defaults)"
    print(f"parameters   {none}", file=out)
    for name, value in sorted(request.parameters.items()):
        print(f"  {shown(name)} = {shown(_text(value))}", file=out)


def print_connection(connection: dict[str, Any], shared: dict[str, Any], out: TextIO) -> None:
    """The published connection parameters, the partition's and each shared
    instance's."""
    print("connection   " + ("" if connection else "(nothing published)"), file=out)
    for key, value in sorted(connection.items()):
        print(f"  {shown(key)} = {shown(_text(value))}", file=out)
    for reference, values in sorted(shared.items()):
        if not isinstance(values, dict):
            continue
        print(f"shared       {shown(reference)}", file=out)
        for key, value in sorted(values.items()):
            print(f"  {shown(key)} = {shown(_text(value))}", file=out)


def _failures(failed: list[tuple[str, str]], out: TextIO) -> None:
    for name, log in failed:
        print(f"  FAILED    {shown(name)}", file=out)
        for line in shown_lines(log):
            print(f"    | {line}", file=out)
        program = without_watchdog(name.split(" ", 1)[0])
        print(f"    (its whole log: slapkit logs {shown(program)})", file=out)


def _promise_lines(promises: list[PromiseResult], out: TextIO, quiet: bool) -> None:
    for promise in promises:
        if promise.skipped and not quiet:
            print(f"  not run   {shown(promise.name)}: {shown(promise.message)}", file=out)
        elif promise.kept and not quiet:
            print(f"  kept      {shown(promise.name)}", file=out)
        elif not promise.kept and not promise.skipped:
            print(f"  FAILING   {shown(promise.name)}: {shown(promise.message)}", file=out)


def _promise_counts(promises: list[PromiseResult]) -> str:
    kept = sum(p.kept for p in promises)
    skipped = sum(p.skipped for p in promises)
    counts = f"{kept} kept, {len(promises) - kept - skipped} failing"
    return counts + (f", {skipped} not run (test-less)" if skipped else "")


def print_summary(
    result: Deployment, out: TextIO, quiet: bool = False, request: Request | None = None
) -> None:
    """The deploy's summary; with ``quiet`` only its problems and the last line."""

    def write(text: str = "") -> None:
        print(text, file=out)

    if not quiet:
        write()
        write(f"partition    {shown(result.partition)}")
        if request is not None:
            print_request(request, out)
    for note in result.notes:
        write(f"note         {shown(note)}")
    for warning in result.warnings:
        write(f"warning      {shown(warning)}")
    if not result.buildout_ok:
        write(
            "buildout     FAILED (the whole output: .slapkit/buildout.log, slapkit logs buildout)"
        )
        for line in shown_lines(result.buildout_error):
            write(f"  {line}")
        if result.files_changed and not quiet:
            # What the parts before the failing one did is on disk.
            write(f"files        {len(result.files_changed)} changed before it failed")
            for line in result.files_changed:
                write(f"  {shown(line)}")
        write(f"NOT OK in {result.seconds:.1f}s")
        return
    if not quiet:
        write(f"files        {len(result.files_changed)} changed")
        for line in result.files_changed:
            write(f"  {shown(line)}")
        write(
            f"services     {len(result.started)} started, {len(result.restarted)} restarted, "
            f"{len(result.stopped)} stopped"
        )
        for label, names in (
            ("started", result.started),
            ("restarted", result.restarted),
            ("stopped", result.stopped),
        ):
            for name in names:
                write(f"  {label:9} {shown(name)}")
    _failures(result.failed_services, out)
    for line in result.skipped:
        write(f"  SKIPPED   {shown(line)}")
    if not quiet:
        write(f"promises     {_promise_counts(result.promises)}")
    _promise_lines(result.promises, out, quiet)
    if not quiet:
        print_connection(result.connection, result.shared_connection, out)
    write(f"{'ok' if result.ok else 'NOT OK'} in {result.seconds:.1f}s")


def print_status(status: Status, out: TextIO, quiet: bool = False) -> None:
    def write(text: str) -> None:
        print(text, file=out)

    if not status.running:
        write(f"{shown(status.partition)}: not running")
    elif not quiet:
        write(f"partition    {shown(status.partition)}")
    for note in status.notes:
        write(f"note         {shown(note)}")
    if status.request is not None and not quiet:
        print_request(status.request, out)
    if not status.running:
        return
    now = time.time()
    if not quiet:
        write("programs")
        for info in status.programs:
            if info["state"] == "RUNNING":
                detail = f"up {int(now - info['start'])}s, pid {info['pid']}"
            elif info["state"] == "EXITED":
                detail = f"exit {info['exit_status']}"
            else:
                detail = ""
            write(f"  {shown(info['state']):9} {shown(info['name']):40} {detail}")
    for line in status.skipped:
        write(f"  SKIPPED   {shown(line)}")
    _failures(status.failed, out)
    if not quiet:
        write(f"promises     {_promise_counts(status.promises)}")
    _promise_lines(status.promises, out, quiet)
    if not quiet:
        print_connection(status.connection, status.shared_connection, out)
    write("ok" if status.ok else "NOT OK")


def _request_json(request: Request | None) -> dict[str, Any] | None:
    if request is None:
        return None
    return {
        "profile": str(request.profile),
        "software_type": request.software_type,
        "parameters": request.parameters,
        "software_release": (
            None if request.software_release is None else str(request.software_release)
        ),
    }


def _promises_json(promises: list[PromiseResult]) -> list[dict[str, Any]]:
    return [asdict(promise) for promise in promises]


def _failed_json(failed: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "log": log} for name, log in failed]


def deployment_json(result: Deployment, request: Request) -> dict[str, Any]:
    return {
        "format": "slapkit-deploy",
        "version": JSON_VERSION,
        "ok": result.ok,
        "seconds": round(result.seconds, 3),
        "partition": str(result.partition),
        "request": _request_json(request),
        "buildout": {
            "ok": result.buildout_ok,
            "error": result.buildout_error,
            "seconds": round(result.buildout_seconds, 3),
            "log": str(result.partition / ".slapkit" / "buildout.log"),
        },
        "files_changed": result.files_changed,
        "services": {
            "started": result.started,
            "restarted": result.restarted,
            "stopped": result.stopped,
            "failed": _failed_json(result.failed_services),
            "skipped": result.skipped,
        },
        "promises": _promises_json(result.promises),
        "connection": result.connection,
        "shared_connection": result.shared_connection,
        "notes": result.notes,
        "warnings": result.warnings,
    }


def status_json(status: Status) -> dict[str, Any]:
    return {
        "format": "slapkit-status",
        "version": JSON_VERSION,
        "ok": status.ok,
        "partition": status.partition,
        "running": status.running,
        "request": _request_json(status.request),
        "programs": status.programs,
        "failed": _failed_json(status.failed),
        "skipped": status.skipped,
        "promises": _promises_json(status.promises),
        "connection": status.connection,
        "shared_connection": status.shared_connection,
        "notes": status.notes,
    }


def print_json(document: dict[str, Any], out: TextIO) -> None:
    # ASCII: every control character and non-ASCII byte escaped, nothing a
    # terminal would act on.
    print(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True), file=out)
