"""Which of the user's parameters a run read: the runner names the ones no
part read (a typo such as ``-p rm-size=2048``, or a ``[slap-parameter]``
section that lost its recipe), as zc.buildout names unused options.

The recipes that hand the parameters to the profile (``slapkit:parameters``,
``slapkit:slapconfiguration``) say, once their outputs are set, which of
their options carries which parameter (``offer``); a read of such an option
through ``Options.get`` (a ``${section:option}`` of another part, a recipe
reading the section) counts that parameter as read (``note_read``): a ``${section:option}``
substitution, or a slapkit template's context naming it (zc.buildout's own
reads, comparing a part's options with its record, do not count). An
option that carries all of them (``parameters-json``, ``configuration``)
counts as reading all. At the end of a successful run, the extension keeps
the result in ``.slapkit/parameters-read.json`` for ``slapkit deploy``.
"""

from __future__ import annotations

import os
from typing import Any

from slapkit.core.partition_state import STATE_DIR, keep_json, read_kept_json, state_directory
from slapkit.core.run_state import current

EVERY_PARAMETER = "*"
REPORT_FILE = "parameters-read.json"


def offer(section: str, parameter_by_option: dict[str, str]) -> None:
    """Options of ``section`` carry these parameters (EVERY_PARAMETER: all)."""
    current().parameter_options.setdefault(section, {}).update(parameter_by_option)


def is_user_derived(section: str, option: str) -> bool:
    """Whether the option carries a user's parameter, or a ``${…}`` built
    its value from one (directly or through other options)."""
    state = current()
    carried = state.parameter_options.get(section)
    return bool(carried and option in carried) or (section, option) in state.user_derived_options


def note_substituted(section: str, option: str, into: tuple[str, str]) -> None:
    """``${section:option}`` was read while substituting the option ``into``:
    a user's data in the one is a user's data in the other."""
    if is_user_derived(section, option):
        current().user_derived_options.add(into)


def note_read(section: str, option: str) -> None:
    carried = current().parameter_options.get(section)
    if carried:
        parameter = carried.get(option)
        if parameter is not None:
            current().parameters_read.add(parameter)


SECRETS_FILE = "secret-parameters.json"


def mark_secret(buildout_directory: str, parameters: set[str]) -> None:
    """These parameters are secrets (a schema's writeOnly): the runner does
    not show their values back. Kept at once, not at the end of the run: a
    run that then fails (the schema refused a value) must not let the
    runner show the value it refused. Names are only added: hiding one that
    stopped being secret costs nothing."""
    current().secret_parameters.update(parameters)
    if not parameters:
        return
    path = os.path.join(buildout_directory, STATE_DIR, SECRETS_FILE)
    known = read_kept_json(buildout_directory, path).get("secret")
    names = (
        set(parameters) | {n for n in known if isinstance(n, str)}
        if isinstance(known, list)
        else set(parameters)
    )
    state_directory(buildout_directory)
    keep_json(buildout_directory, path, {"secret": sorted(names)})


def note_read_whole(section: str) -> None:
    """A part took ``section`` whole (a template's ``section`` context)."""
    if section in current().parameter_options:
        current().parameters_read.add(EVERY_PARAMETER)


def keep_report(buildout_directory: str) -> None:
    """Keep what this run read, for the runner (nothing when no part offered
    parameters: then nothing read any)."""
    state = current()
    report: dict[str, Any] = {
        "offered_by": sorted(state.parameter_options),
        "read": sorted(state.parameters_read),
        # the instances request parts asked the runner for (its --requested)
        "requested": sorted(state.requested_names),
    }
    state_directory(buildout_directory)
    keep_json(buildout_directory, os.path.join(buildout_directory, STATE_DIR, REPORT_FILE), report)
