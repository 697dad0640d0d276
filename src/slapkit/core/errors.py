"""User-facing errors: every message names the part and the option."""

from __future__ import annotations

import zc.buildout


def option_error(part: str, option: str, message: str) -> zc.buildout.UserError:
    """Return the error for a bad value, as ``[part] option: message``."""
    return zc.buildout.UserError(f"[{part}] {option}: {message}")
