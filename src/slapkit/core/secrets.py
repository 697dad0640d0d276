"""The secrets of a run: found in any text, and redacted from error messages.

Every secret a recipe serves (a generated password, its hashes, a
``writeOnly`` parameter) is registered here; ``holds_secret`` tells whether
a text quotes one (an option that must then be concealed) and ``redact``
replaces them in error messages.
"""

from __future__ import annotations

import html
import json
import re
import shlex

from slapkit.core.run_state import SecretRegistry, current

REDACTED = "<secret>"
# A secret this short (an imposed "passwd = ab") is matched only as a whole
# word: replaced inside other words it would garble every message, and the
# garbling itself would spell the secret out.
SHORT_SECRET = 4


def _registry() -> SecretRegistry:
    return current().secrets


def register_secret(value: str) -> None:
    """Remember ``value`` as a secret, and every escaped form under which a
    file or a message may show it: JSON (``parameters-json``; Jinja2's
    ``tojson``, which also escapes ``<>&'``), Python's ``repr`` (error
    messages, a promise plugin's configuration), the shell's quoting (a
    wrapper's arguments) and HTML's (Jinja2's ``|e``)."""
    if not value:
        return
    for form in escaped_forms(value):
        _register(form)


def escaped_forms(value: str) -> set[str]:
    as_json = json.dumps(value)[1:-1]
    return {
        value,
        as_json,
        json.dumps(value, ensure_ascii=False)[1:-1],
        as_json.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("'", "\\u0027"),
        repr(value)[1:-1],
        # as dumps writes it into a sub-profile: !py!'…' with every $ doubled
        repr(value)[1:-1].replace("$", "$$"),
        shlex.quote(value),
        html.escape(value),
    }


def _register(value: str) -> None:
    registry = _registry()
    if not value or value in registry.known:
        return
    registry.known.add(value)
    registry.patterns.pop(False, None)
    if len(value) < SHORT_SECRET:
        registry.short.add(value)
        registry.patterns.pop(True, None)
    else:
        registry.long.add(value)
        registry.prefixes = None


def _word(secret: str) -> str:
    return r"(?<![^\W_])" + re.escape(secret) + r"(?![^\W_])"


def _pattern(short_only: bool = False) -> re.Pattern[str] | None:
    """One alternation of the secrets, longest first, compiled on demand and
    kept until a new secret comes (``holds_secret`` does not need it for
    long secrets: a plain substring search is cheaper)."""
    registry = _registry()
    if short_only not in registry.patterns:
        chosen = registry.short if short_only else registry.known
        alternatives = [
            re.escape(secret) if len(secret) >= SHORT_SECRET else _word(secret)
            for secret in sorted(chosen, key=len, reverse=True)
        ]
        registry.patterns[short_only] = re.compile("|".join(alternatives)) if alternatives else None
    pattern: re.Pattern[str] | None = registry.patterns[short_only]
    return pattern


def redact(text: str) -> str:
    pattern = _pattern()
    return pattern.sub(REDACTED, text) if pattern else text


def _holds_long_secret(value: str, registry: SecretRegistry) -> bool:
    long = registry.long
    if not long:
        return False
    if len(value) > 4 * len(long):
        # Few secrets in a long text: one substring search each is cheaper.
        return any(secret in value for secret in long)
    prefixes = registry.prefixes
    if prefixes is None:
        prefixes = registry.prefixes = {}
        for secret in long:
            prefixes.setdefault(secret[:SHORT_SECRET], []).append(secret)
    # Many secrets (a password a part): look at each place of the text once.
    for start in range(len(value) - SHORT_SECRET + 1):
        candidates = prefixes.get(value[start : start + SHORT_SECRET])
        if candidates and any(value.startswith(secret, start) for secret in candidates):
            return True
    return False


def holds_secret(value: str) -> bool:
    registry = _registry()
    if _holds_long_secret(value, registry):
        return True
    pattern = _pattern(short_only=True) if registry.short else None
    return bool(pattern and pattern.search(value))


def has_secrets() -> bool:
    return bool(_registry().known)
