"""``slapkit:check_url_available``: slapos.cookbook's URL promise, by its options."""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.claims import claim, remove_unclaimed
from slapkit.core.files import executable_mode
from slapkit.core.options import PartOptions
from slapkit.recipes.promise import checked_url, url_check

DEFAULT_TIMEOUT = 20.0


class CheckUrlAvailable(BaseRecipe):
    """A promise that a URL answers; drop-in for ``slapos.cookbook:check_url_available``.

    Options:
      path               (required) where the check goes.
      url                (required) http:// or https://; redirects are followed.
      http_code          the status that keeps the promise, default 200.
      check-secure       ``1``: a 401 (the URL is protected) keeps it too.
      cert-file, key-file
                         a client certificate for https (both or neither).
      ca-cert-file       accepted; as with the cookbook (``curl -k``), the
                         server's certificate is not verified.
      timeout-file-path  a file holding the timeout in seconds (default
                         ``etc/promise_timeout`` of the buildout directory);
                         20 when it is missing or not an integer.
      dash_path, curl_path
                         the cookbook's shell and curl: accepted, unused (the
                         check is Python, the URL never goes through a shell).
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        opts = self.opts
        self.path = self.required_path("path")
        claim(self.path)
        url = checked_url(self, "url")
        status = opts.integer("http_code", 200, minimum=100, maximum=599)
        secure = opts.text("check-secure", "0")
        if secure not in ("0", "1"):
            raise self.error("check-secure", f"{secure!r} is neither 0 nor 1")
        cert, key = self.local_path("cert-file"), self.local_path("key-file")
        if (cert is None) != (key is None):
            raise self.error("cert-file", "give both cert-file and key-file, or neither")
        for unused in ("dash_path", "curl_path", "ca-cert-file"):
            opts.text(unused)  # read: known, and not reported as unused
        self.script = url_check(
            name,
            url,
            status,
            also_kept=(401,) if secure == "1" else (),
            timeout=self._timeout(),
            unverified=True,
            certificate=(cert, key) if cert and key else None,
        )

    def _timeout(self) -> float:
        path = self.local_path("timeout-file-path") or os.path.join(
            self.directory, "etc", "promise_timeout"
        )
        try:
            with open(path, encoding="utf-8") as stream:
                text = stream.read().strip()
        except (OSError, ValueError):
            return DEFAULT_TIMEOUT
        return float(text) if text.isdigit() else DEFAULT_TIMEOUT

    def install(self) -> list[str]:
        self.write("path", self.path, self.script, executable_mode())
        return []


def uninstall(name: str, options: Mapping[str, str]) -> None:
    remove_unclaimed(name, [PartOptions(name, options).text("path") or ""])
