"""``slapkit:check_parameter``: a promise that a value is what it should be."""

from __future__ import annotations

import shlex
import socket
from collections.abc import Mapping, MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.claims import claim, remove_unclaimed
from slapkit.core.files import executable_mode
from slapkit.core.options import PartOptions
from slapkit.core.secrets import holds_secret
from slapkit.runner.display import shown

FAMILIES = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}


class CheckParameter(BaseRecipe):
    """A promise on a value known when buildout runs (a parameter, an
    address); drop-in for ``slapos.cookbook:check_parameter``.

    Options:
      path                (required) where the promise goes (``etc/promise/``).
      value               the value checked (may be empty).
      expected-type       ``ipv4`` or ``ipv6``: the value must be such an
                          address (as the cookbook: ``inet_pton``); then the
                          two below are not used.
      expected-value      the value must be this (empty: no constraint).
      expected-not-value  the value must not be this (empty: no constraint).

    The value is judged when buildout runs, as it is then fixed: the promise
    holds the verdict, exits 0, or prints ``FAIL: …`` and exits 127 as the
    cookbook's. It never holds the value as code (the cookbook's writes it
    into Python source, where a ``"`` in a user's value would be code).
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        self.path = self.required_path("path")
        claim(self.path)
        value = (options.get("value") or "").strip()
        kind = self.opts.text("expected-type")
        if kind is not None and kind not in FAMILIES:
            raise self.error("expected-type", f"{kind!r} is neither ipv4 nor ipv6")
        failure = (
            _address_failure(value, kind)
            if kind is not None
            else _value_failure(
                value, self.opts.text("expected-value"), self.opts.text("expected-not-value")
            )
        )
        lines = [
            "#!/bin/sh",
            f"# Written by slapkit:check_parameter for part [{name}]; edits are overwritten.",
        ]
        if failure is not None:
            # One line, control characters escaped: a user's value shows as data.
            # printf, not echo: a shell's echo reads backslashes as escapes.
            lines.append(f"printf '%s\\n' {shlex.quote('FAIL: ' + shown(failure))}")
        lines.append("exit 127" if failure is not None else "exit 0")
        self.script = "\n".join(lines) + "\n"

    def install(self) -> list[str]:
        self.write("path", self.path, self.script, executable_mode())
        return []


def _address_failure(value: str, kind: str) -> str | None:
    try:
        socket.inet_pton(FAMILIES[kind], value)
    except (OSError, ValueError):
        shown_value = _said(value) if holds_secret(value) else repr(value)
        return f"{shown_value} is not an {'IPv4' if kind == 'ipv4' else 'IPv6'} address"
    return None


def _value_failure(value: str, expected: str | None, not_expected: str | None) -> str | None:
    if expected is not None and value != expected:
        return f"{_said(value)} != {_said(expected)}"
    if not_expected is not None and value == not_expected:
        return f"{_said(value)} == {_said(not_expected)}"
    return None


def _said(value: str) -> str:
    """A value as the promise's message shows it: a secret never."""
    return "(a secret, not shown)" if holds_secret(value) else value


def uninstall(name: str, options: Mapping[str, str]) -> None:
    remove_unclaimed(name, [PartOptions(name, options).text("path") or ""])
