"""The service of ``slapkit:certificate_authority``: make the authority, sign
what is asked of it.

Written whole into the service's script by the recipe, so it runs with the
standard library alone (no slapkit on ``sys.path`` under slapgrid). Every
pass it makes the authority's key and certificate if either is missing, then
signs each request file of the requests directory whose key or certificate
is missing. Nothing is written through a link: a request names a key and a
certificate inside the authority's own directories, by the digest of its
name, or it is refused. A key and its certificate appear complete or not at
all (made under temporary names, then renamed).
"""

from __future__ import annotations

import configparser
import os
import re
import stat
import subprocess
import sys
import time

# The name of a key or certificate a request may ask for: the SHA-512 digest
# of the request's name, as slapos.cookbook names them.
REQUESTED_FILE = re.compile(r"[0-9a-f]{128}\.(key|crt)\Z")
REQUEST_FILE = re.compile(r"[0-9a-f]{128}\Z")
REQUEST_MAX_BYTES = 65536
# A request that failed is tried again this much later, not every pass.
RETRY_SECONDS = 60.0
AUTHORITY_DAYS = "10950"
CERTIFICATE_DAYS = "3650"


def subject(fields: list[tuple[str, str]]) -> str:
    """An ``-subj`` argument: every character but letters and digits escaped,
    so a name never adds or splits a field."""
    parts = []
    for key, value in fields:
        if value:
            escaped = "".join(c if c.isalnum() and c.isascii() else "\\" + c for c in value)
            parts.append(f"/{key}={escaped}")
    return "".join(parts)


def _regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _openssl(openssl: str, arguments: list[str]) -> None:
    done = subprocess.run(
        [openssl, *arguments],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise RuntimeError(
            f"{openssl} {arguments[0]} exited {done.returncode}: {' '.join(lines[-3:])}"
        )


class Authority:
    def __init__(self, settings: dict[str, str]):
        self.openssl = settings["openssl"]
        self.config = settings["config"]
        self.key = settings["key"]
        self.certificate = settings["certificate"]
        self.requests = settings["requests"]
        self.private = settings["private"]
        self.certs = settings["certs"]
        self.database = [os.path.join(settings["ca_dir"], name) for name in ("index.txt", "serial")]
        self.fields = [
            ("C", settings["country"]),
            ("ST", settings["state"]),
            ("L", settings["city"]),
            ("O", settings["company"]),
            ("emailAddress", settings["email"]),
        ]
        self.retry_after: dict[str, float] = {}

    def _made_atomically(self, key: str, certificate: str, make: list[list[str]]) -> None:
        """Run the openssl commands that write ``key.new`` and
        ``certificate.new``, then rename both; nothing is left on failure."""
        temporaries = (key + ".new", certificate + ".new")
        for path in temporaries:
            _remove(path)
        try:
            for arguments in make:
                _openssl(self.openssl, arguments)
            os.chmod(temporaries[0], 0o600)
            os.rename(temporaries[0], key)
            os.rename(temporaries[1], certificate)
        finally:
            for path in temporaries:
                _remove(path)

    def ensure_authority(self) -> bool:
        """Make the authority's key and certificate when either is missing."""
        if _regular(self.key) and _regular(self.certificate):
            return False
        for path in (self.key, self.certificate):
            _remove(path)
        name = ("CN", f"Certificate Authority {os.path.basename(os.path.dirname(self.key))}")
        make = [
            "req -new -x509 -nodes -utf8 -sha256 -newkey rsa:2048".split()
            + ["-days", AUTHORITY_DAYS, "-config", self.config, "-extensions", "authority"]
            + ["-subj", subject([*self.fields, name])]
            + ["-keyout", self.key + ".new", "-out", self.certificate + ".new"]
        ]
        self._made_atomically(self.key, self.certificate, make)
        print(f"made the certificate authority {self.certificate}", flush=True)
        return True

    def read_request(self, path: str) -> tuple[str, str, str]:
        """(name, key, certificate) of a request file, or ValueError."""
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(descriptor, "rb") as stream:
            if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                raise ValueError("not a regular file")
            data = stream.read(REQUEST_MAX_BYTES + 1)
        if len(data) > REQUEST_MAX_BYTES:
            raise ValueError("too long")
        parser = configparser.RawConfigParser()
        parser.read_string(data.decode("utf-8"))
        name = parser.get("certificate", "name")
        key = parser.get("certificate", "key_file")
        certificate = parser.get("certificate", "certificate_file")
        for path_asked, directory in ((key, self.private), (certificate, self.certs)):
            if os.path.dirname(path_asked) != directory or not REQUESTED_FILE.match(
                os.path.basename(path_asked)
            ):
                raise ValueError(f"{path_asked!r} is not a file of {directory!r} this CA names")
        return name, key, certificate

    def sign(self, name: str, key: str, certificate: str) -> bool:
        if _regular(key) and _regular(certificate):
            return False
        for path in self.database:
            if not _regular(path):
                raise ValueError(f"the authority's {path!r} is not a regular file")
        for path in (key, certificate):
            _remove(path)
        request = certificate + ".csr"
        _remove(request)
        fields = [*self.fields, ("CN", name)]
        make = [
            "req -new -nodes -utf8 -sha256 -newkey rsa:2048".split()
            + ["-config", self.config, "-subj", subject(fields)]
            + ["-keyout", key + ".new", "-out", request],
            ["ca", "-batch", "-notext", "-utf8", "-config", self.config]
            + ["-days", CERTIFICATE_DAYS, "-in", request, "-out", certificate + ".new"],
        ]
        try:
            self._made_atomically(key, certificate, make)
        finally:
            _remove(request)
        print(f"signed a certificate for {name!r}", flush=True)
        return True

    def sign_requests(self, now: float) -> None:
        for entry in sorted(os.listdir(self.requests)):
            if not REQUEST_FILE.match(entry) or self.retry_after.get(entry, 0.0) > now:
                continue
            path = os.path.join(self.requests, entry)
            try:
                self.sign(*self.read_request(path))
            except (OSError, ValueError, RuntimeError, configparser.Error) as exc:
                print(f"request {path}: {exc}", file=sys.stderr, flush=True)
                self.retry_after[entry] = now + RETRY_SECONDS


def main(settings: dict[str, str], interval: float = 1.0, passes: int = 0) -> None:
    """Run forever (``passes`` 0) or that many passes."""
    os.umask(0o077)
    authority = Authority(settings)
    done = 0
    while True:
        try:
            authority.ensure_authority()
        except (OSError, RuntimeError) as exc:
            # Without an authority nothing can be signed: the service fails
            # and its supervisor starts it again (an alert, as it should be).
            print(f"cannot make the certificate authority: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(1) from None
        authority.sign_requests(time.monotonic())
        done += 1
        if passes and done >= passes:
            return
        time.sleep(interval)
