"""What ``slapkit deploy`` was asked last: the runner plays the master, and
a master remembers an instance's request.

The profile, the software type, the parameters, the software release
(``--software-release``) and the requested instances' answers
(``--requested``) of the last deploy are kept in
``.slapkit/request.json`` (0600, authenticated with the partition's salt: a
file edited or planted there is not used). ``slapkit deploy`` with
none of them deploys the same instance again; ``-p NAME=VALUE`` changes that
one parameter (an empty value removes it: an empty parameter is no
parameter); ``--parameters FILE`` replaces the whole set; ``--reset``
forgets what was kept.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slapkit.core.partition_state import STATE_DIR, keep_json, read_kept_json, state_directory
from slapkit.runner.display import shown
from slapkit.runner.partition import DeployError, collect_parameters

REQUEST_FILE = "request.json"
DEFAULT_SOFTWARE_TYPE = "default"


@dataclass
class Request:
    profile: Path | None = None
    software_type: str = DEFAULT_SOFTWARE_TYPE
    parameters: dict[str, Any] = field(default_factory=dict)
    # --software-release: the directory the partition's software_release links to.
    software_release: Path | None = None
    # --requested: what the instances the profile requests publish, by name.
    requested: dict[str, Any] = field(default_factory=dict)


def _path(partition: Path) -> str:
    return str(partition / STATE_DIR / REQUEST_FILE)


def remembered(partition: Path) -> tuple[Request, str | None]:
    """The request kept in the partition (an empty one when there is none),
    and a note when a file is there that slapkit did not keep."""
    path = _path(partition)
    kept = read_kept_json(str(partition), path) if partition.is_dir() else {}
    if not kept:
        if os.path.lexists(path):
            return Request(), (
                f"{path} is not a request slapkit kept (edited, planted or cut short): "
                "not used; the profile, software type and parameters are the ones given now"
            )
        return Request(), None
    profile = kept.get("profile")
    software_type = kept.get("software_type")
    parameters = kept.get("parameters")
    software_release = kept.get("software_release")
    requested = kept.get("requested", {})
    if not (
        isinstance(profile, str)
        and isinstance(software_type, str)
        and isinstance(parameters, dict)
        and all(isinstance(name, str) for name in parameters)
        and (software_release is None or isinstance(software_release, str))
        and isinstance(requested, dict)
    ):
        return Request(), f"{path} does not hold a request: not used"
    release = None if software_release is None else Path(software_release)
    return Request(Path(profile), software_type, parameters, release, requested), None


def requested(
    earlier: Request,
    profile: Path | None,
    software_type: str | None,
    assignments: list[str],
    parameters_file: str | None,
    reset: bool,
    software_release: Path | None = None,
    requested: dict[str, Any] | None = None,
) -> Request:
    """This deploy's request: what is given now over what was kept (the
    profile and the software release are kept through ``--reset``)."""
    if reset:
        earlier = Request(earlier.profile, software_release=earlier.software_release)
    parameters = (
        collect_parameters([], parameters_file) if parameters_file else dict(earlier.parameters)
    )
    for name, value in collect_parameters(assignments, None).items():
        if value == "":
            parameters.pop(name, None)
        else:
            parameters[name] = value
    if profile is None:
        if earlier.profile is None:
            raise DeployError(
                "no profile given, and none was deployed in this partition before: "
                "slapkit deploy PROFILE"
            )
        profile = earlier.profile
    release = earlier.software_release if software_release is None else software_release
    if release is not None:
        if shown(str(release)) != str(release):
            raise DeployError(
                f"--software-release {shown(repr(str(release)))}: holds a control character"
            )
        release = release.resolve()
        if not release.is_dir():
            given = "--software-release" if software_release is not None else "the last deploy's"
            raise DeployError(
                f"{given} {release}: not a directory (the software release the partition's "
                "software_release links to, as slapgrid makes it)"
            )
    return Request(
        profile.resolve(),
        earlier.software_type if software_type is None else software_type,
        parameters,
        release,
        earlier.requested if requested is None else requested,
    )


def remember(partition: Path, request: Request) -> None:
    """Keep ``request`` in the partition for the next deploy and ``status``."""
    state_directory(str(partition))
    keep_json(
        str(partition),
        _path(partition),
        {
            "profile": str(request.profile),
            "software_type": request.software_type,
            "parameters": request.parameters,
            "software_release": (
                None if request.software_release is None else str(request.software_release)
            ),
            "requested": request.requested,
        },
    )


SECRET_SHOWN = "(a secret: not shown)"


def secret_parameters(partition: Path) -> set[str]:
    """The parameters the profile's schema marks (or marked) writeOnly
    (``.slapkit/secret-parameters.json``)."""
    from slapkit.core.parameter_reads import SECRETS_FILE

    report = read_kept_json(str(partition), str(partition / STATE_DIR / SECRETS_FILE))
    names = report.get("secret")
    return {name for name in names if isinstance(name, str)} if isinstance(names, list) else set()


def masked(request: Request, secrets: set[str]) -> Request:
    """``request`` to show: the values of secret parameters hidden."""
    parameters = {
        name: SECRET_SHOWN if name in secrets else value
        for name, value in request.parameters.items()
    }
    return Request(
        request.profile,
        request.software_type,
        parameters,
        request.software_release,
        request.requested,
    )
