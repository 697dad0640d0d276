"""User-facing errors: every message names the part and the option."""

from __future__ import annotations

import zc.buildout

from slapkit.core.secrets import redact


def option_error(part: str, option: str, message: str) -> Exception:
    """Return the error for a bad value, as ``[part] option: message``: a
    ``zc.buildout.UserError``, which buildout prints without a traceback.

    A known secret quoted in the message is replaced by ``<secret>``; the
    part and option names are the profile's own words, never secrets.
    """
    error: Exception = zc.buildout.UserError(f"[{part}] {option}: {redact(message)}")
    return error
