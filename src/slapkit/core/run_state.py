"""What slapkit keeps for the length of one buildout run, in one object.

zc.buildout constructs every part of a run, then uninstalls and installs
them; a few facts must be shared across parts of that one run: the secrets
to redact, the files the run's parts claim (an uninstall must not remove
them), the user's multi-line values, directory listings. They live in one
``RunState``, owned by the buildout instance that runs: the first recipe a
new buildout constructs starts a new state (``begin_run``), so two
buildouts in one process (the test harness, a sub-buildout) never share
one. ``reset_run_state`` forgets it all, for tests that drive recipes by
hand. Caches that are pure functions of their key (compiled templates) are
not run state and stay in their modules.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SecretRegistry:
    """Every secret served in this run, sorted for searching: a long one is
    found anywhere, a short one only as a whole word (see ``secrets``)."""

    known: set[str] = field(default_factory=set)
    long: set[str] = field(default_factory=set)
    short: set[str] = field(default_factory=set)
    # Compiled alternations of them, by "short only", made on demand.
    patterns: dict[bool, Any] = field(default_factory=dict)
    # The long ones by their first characters (secrets.SHORT_SECRET), made
    # on demand.
    prefixes: dict[str, list[str]] | None = None


@dataclass
class RunState:
    secrets: SecretRegistry = field(default_factory=SecretRegistry)
    # Absolute paths the constructed parts of this run write.
    claimed: set[str] = field(default_factory=set)
    # The user's parameter values with a line break (see user_values).
    multiline_user_values: set[str] = field(default_factory=set)
    # The user's parameter values a shell would not take as one plain word.
    shell_special_user_values: set[str] = field(default_factory=set)
    # The user's parameter values with a ".." path component.
    climbing_user_values: set[str] = field(default_factory=set)
    # The (section, option)s whose value a ${…} built from a user's
    # parameter, directly or through other options (see serialised).
    user_derived_options: set[tuple[str, str]] = field(default_factory=set)
    # Names that look like temporaries, by directory, listed once.
    temporaries: dict[str, set[str]] = field(default_factory=dict)
    # Hashed wrappers by directory (see recipes/wrapper.py), listed once.
    wrapper_listings: dict[str, Any] = field(default_factory=dict)
    # The partition's salt, by buildout directory, read once.
    salts: dict[str, bytes] = field(default_factory=dict)
    # Python objects behind options, by (section, option): (text, object).
    objects: dict[tuple[str, str], tuple[str, Any]] = field(default_factory=dict)
    # The keys the constructed parts of this run publish to each local
    # connection record (publish without a master), by the record's path:
    # ``(key,)``, or ``(reference, key)`` for a shared instance's. A key no
    # part publishes any more (or one added by hand) does not stay.
    published_keys: dict[str, set[tuple[str, ...]]] = field(default_factory=dict)
    # Which option of which section carries which user parameter, and the
    # parameters read (see parameter_reads).
    parameter_options: dict[str, dict[str, str]] = field(default_factory=dict)
    parameters_read: set[str] = field(default_factory=set)
    # The names of the instances the run's request parts asked the runner for.
    requested_names: set[str] = field(default_factory=set)
    # The user's parameters a schema marks writeOnly: never shown back.
    secret_parameters: set[str] = field(default_factory=set)
    # What a switch-softwaretype part hands to its sub-buildout's
    # [slap-configuration]: {"values": {...}, "concealed": (...)}.
    inherited: dict[str, Any] = field(default_factory=dict)
    # A switch-softwaretype sub-buildout's run: its profile was rendered by
    # the main run, secrets included (see concealment).
    sub_buildout: bool = False

    def seeded(self) -> RunState:
        """A new run's state that knows this one's secrets, user values,
        objects and hand-over (for a sub-buildout)."""
        secrets = SecretRegistry(
            set(self.secrets.known), set(self.secrets.long), set(self.secrets.short)
        )  # (patterns and prefixes made again on demand)
        return RunState(
            secrets=secrets,
            multiline_user_values=set(self.multiline_user_values),
            shell_special_user_values=set(self.shell_special_user_values),
            climbing_user_values=set(self.climbing_user_values),
            objects=dict(self.objects),
            inherited=dict(self.inherited),
            sub_buildout=True,
            # The same dict: the main run and its sub-buildout make one record.
            published_keys=self.published_keys,
            # The same: a sub-buildout's reads are the main run's.
            parameter_options=self.parameter_options,
            parameters_read=self.parameters_read,
            requested_names=self.requested_names,
            secret_parameters=self.secret_parameters,
        )


_state = RunState()
_owner: weakref.ref[Any] | None = None
# The state a sub-buildout's run starts from, while one runs.
_seed: RunState | None = None


def current() -> RunState:
    """The state of the run in progress."""
    return _state


def begin_run(buildout: Any) -> RunState:
    """The state of ``buildout``'s run: a new one when another buildout
    than the last one seen constructs a recipe."""
    global _state, _owner
    owner = _owner() if _owner is not None else None
    if owner is not buildout:
        _state = _seed.seeded() if _seed is not None else RunState()
        try:
            _owner = weakref.ref(buildout)
        except TypeError:  # not weak-referenceable: no owner to compare
            _owner = None
    return _state


@contextmanager
def sub_run() -> Iterator[RunState]:
    """Around a sub-buildout run by a part: the sub-buildout's recipes get a
    state of their own, seeded from this one; this one is back after."""
    global _state, _owner, _seed
    saved, saved_seed = (_state, _owner), _seed
    _seed = _state
    try:
        yield _state
    finally:
        (_state, _owner), _seed = saved, saved_seed


def reset_run_state() -> None:
    """Forget the run's state (tests that construct recipes by hand)."""
    global _state, _owner
    _state, _owner = RunState(), None
