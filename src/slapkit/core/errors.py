"""User-facing errors: every message names the part and the option."""

from __future__ import annotations

import zc.buildout


def option_error(part: str, option: str, message: str) -> zc.buildout.UserError:
    """Return the error for a bad value, as ``[part] option: message``.

    A known secret quoted in the message is replaced by ``<secret>``; the
    part and option names are the profile's own words, never secrets.
    """
    from slapkit.core.secrets import redact

    return zc.buildout.UserError(f"[{part}] {option}: {redact(message)}")
