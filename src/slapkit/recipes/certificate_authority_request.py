"""``slapkit:certificate_authority.request``: a certificate asked of the authority."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
from collections.abc import Mapping, MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.buildout_internals import take_out
from slapkit.core.claims import claim, is_claimed, remove_unclaimed
from slapkit.core.concealment import conceal
from slapkit.core.files import executable_mode, replace_symlink
from slapkit.core.options import PartOptions
from slapkit.core.secrets import register_secret
from slapkit.recipes.wrapper import shell_quote

# X.509's upper bound for a common name: a longer one could never be signed.
COMMON_NAME_MAX = 64
# What a request part inherits from the authority's part (``<= ca``) and
# does not use itself: read, so that buildout does not call them unused.
INHERITED = ("ca-dir", "ca-newcerts", "ca-crl", "country-code", "email", "state", "city", "company")


def requested_paths(private: str, certs: str, name: str) -> tuple[str, str, str]:
    """(digest, key, certificate): where the authority puts what ``name`` asks."""
    digest = hashlib.sha512(name.encode("utf-8")).hexdigest()
    return digest, os.path.join(private, digest + ".key"), os.path.join(certs, digest + ".crt")


def _request_file(name: str, key: str, certificate: str) -> str:
    return f"[certificate]\nname = {name}\nkey_file = {key}\ncertificate_file = {certificate}\n"


class CertificateAuthorityRequest(BaseRecipe):
    """Drop-in for ``slapos.cookbook:certificate_authority.request``.

    Options (usually ``<= `` the authority's part, for its directories):
      requests-directory  (required) the authority's requests directory.
      ca-private          (required) where the authority puts keys.
      ca-certs            (required) where it puts certificates.
      key-file            (required) a link made to the key.
      cert-file           (required) a link made to the certificate.
      name                the certificate's common name (default: the part's
                          name), at most 64 characters.
      executable          (required unless both contents are given) what
      wrapper             the script ``wrapper`` runs once the key and the
                          certificate exist (it waits for them).
      key-content         a key and certificate to use instead of asking
      cert-content        the authority (both or neither); they must match.
                          The key is a secret: never saved by buildout.
      openssl-binary      the program checking that they match (default
                          ``openssl`` on PATH).

    The request is a file named by the SHA-512 digest of the name, written
    only when it changes. Removing the part removes the wrapper, the links
    (while still links to the authority's files) and the request; the key and
    certificate stay with the authority.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        for inherited in INHERITED:
            self.opts.text(inherited)
        self.requests = os.path.normpath(self.required_path("requests-directory"))
        private = os.path.normpath(self.required_path("ca-private"))
        certs = os.path.normpath(self.required_path("ca-certs"))
        self.key_file = self.required_path("key-file")
        self.cert_file = self.required_path("cert-file")
        if os.path.normpath(self.key_file) == os.path.normpath(self.cert_file):
            raise self.error("cert-file", "is the same path as key-file")
        self.common_name = self.opts.text("name", name)
        self.opts.checked_path("name", self.common_name)  # no control character
        if len(self.common_name) > COMMON_NAME_MAX:
            raise self.error(
                "name",
                f"is {len(self.common_name)} characters long; a certificate's common name has "
                f"at most {COMMON_NAME_MAX}",
            )
        digest, self.key, self.certificate = requested_paths(private, certs, self.common_name)
        self.request_path = os.path.join(self.requests, digest)
        key_content = (take_out(options, "key-content") or "").strip()
        if key_content:
            register_secret(key_content)
            conceal(options, ("key-content",), {"key-content": key_content}.get)
        cert_content = self.opts.text("cert-content")
        if bool(key_content) != bool(cert_content):
            given, missing = (
                ("key-content", "cert-content") if key_content else ("cert-content", "key-content")
            )
            raise self.error(missing, f"is required when {given} is given (both or neither)")
        self.contents = (key_content + "\n", cert_content + "\n") if cert_content else None
        self.openssl = self.opts.text("openssl-binary", "openssl")
        self.script: str | None = None
        self.wrapper: str | None = None
        if self.contents is None:
            executable = self.opts.checked_path("executable", self.opts.required("executable"))
            self.wrapper = self.required_path("wrapper")
            claim(self.wrapper)
            claim(self.request_path)
            self.script = self._script(executable)
        else:
            self.opts.text("executable")
            self.opts.text("wrapper")
        claim(self.key_file)
        claim(self.cert_file)

    def _script(self, executable: str) -> str:
        waited = f"[ -e {shell_quote(self.key)} ] && [ -e {shell_quote(self.certificate)} ]"
        return (
            "#!/bin/sh\n"
            f"# Written by slapkit:certificate_authority.request for part [{self.name}]; "
            "edits are overwritten.\n"
            f"if ! {{ {waited}; }}; then\n"
            '  echo "${0##*/}: waiting for the certificate authority to sign "'
            f"{shell_quote(self.common_name)} >&2\n"
            f"  until {waited}; do sleep 0.2 2>/dev/null || sleep 1; done\n"
            "fi\n"
            f"exec {shell_quote(executable)}\n"
        )

    def _check_pair(self, key: str, certificate: str) -> None:
        """The given key and certificate are readable and belong together
        (their public keys are the same). Neither is ever shown."""

        def public_key(arguments: list[str], content: str, option: str) -> bytes:
            try:
                done = subprocess.run(
                    [self.openssl, *arguments],
                    input=content.encode("utf-8"),
                    capture_output=True,
                    check=False,
                    timeout=60,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise self.error("openssl-binary", f"cannot run {self.openssl!r}: {exc}") from None
            if done.returncode != 0 or not done.stdout:
                raise self.error(option, f"is not a PEM {option.split('-')[0]} openssl can read")
            return done.stdout

        ours = public_key(["pkey", "-pubout"], key, "key-content")
        theirs = public_key(["x509", "-noout", "-pubkey"], certificate, "cert-content")
        if ours != theirs:
            raise self.error("key-content", "does not match cert-content (another public key)")

    def _link(self, option: str, link: str, target: str) -> None:
        if os.path.lexists(link) and not os.path.islink(link):
            raise self.error(option, f"{link!r} exists and is not a symbolic link")
        if os.path.islink(link) and os.readlink(link) == target:
            return
        existed = os.path.lexists(link)
        try:
            replace_symlink(target, link)
        except OSError as exc:
            raise self.error(option, f"cannot link {link!r}: {exc.strerror}") from None
        self.report("updated" if existed else "created", f"{link} -> {target}")

    def install(self) -> list[str]:
        for option, link in (("key-file", self.key_file), ("cert-file", self.cert_file)):
            if os.path.lexists(link) and not os.path.islink(link):
                raise self.error(option, f"{link!r} exists and is not a symbolic link")
        if self.contents is not None:
            self._check_pair(*self.contents)
            self.write("key-content", self.key, self.contents[0], 0o600)
            self.write("cert-content", self.certificate, self.contents[1])
        else:
            assert self.script is not None and self.wrapper is not None
            request = _request_file(self.common_name, self.key, self.certificate)
            self.write("requests-directory", self.request_path, request, 0o600)
            self.write("wrapper", self.wrapper, self.script, executable_mode())
        self._link("key-file", self.key_file, self.key)
        self._link("cert-file", self.cert_file, self.certificate)
        return []


def uninstall(name: str, options: Mapping[str, str]) -> None:
    opts = PartOptions(name, options)
    log = logging.getLogger(name)
    private, certs = opts.text("ca-private"), opts.text("ca-certs")
    requests = opts.text("requests-directory")
    if not (private and certs and requests):
        return
    common_name = opts.text("name", name)
    digest, key, certificate = requested_paths(
        os.path.normpath(private), os.path.normpath(certs), common_name
    )
    remove_unclaimed(name, [opts.text("wrapper") or "", os.path.join(requests, digest)])
    for option, target in (("key-file", key), ("cert-file", certificate)):
        link = opts.text(option)
        if not link or is_claimed(link):
            continue
        try:
            if os.readlink(link) != target:
                continue  # not the link this part made
            os.unlink(link)
        except OSError:
            continue
        log.info("removed %s", link)
