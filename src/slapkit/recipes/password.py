"""``slapkit:generate.password``: a secret made once and kept."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import string
from collections.abc import MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.buildout_internals import take_out
from slapkit.core.concealment import conceal
from slapkit.core.files import read_regular_file, replace_atomically
from slapkit.core.locks import locked_directory
from slapkit.core.secrets import register_secret

DEFAULT_CHARS = string.ascii_letters + string.digits
_BLANK = re.compile(r"\s")
SECRET_MODE = 0o600
# Far above what any server accepts; a typo such as 160000000 would otherwise
# make buildout spin building a gigabyte password.
MAX_LENGTH = 4096
HASH_PREFIX = "passwd-"
# Short names for the schemes servers use; any other passlib handler name
# also works, with "-" for "_" (passwd-pbkdf2-sha256, passwd-md5-crypt, ...).
HASH_SCHEMES = {
    "sha256-crypt": "sha256_crypt",
    "sha512-crypt": "sha512_crypt",
    "bcrypt": "bcrypt",
    "ssha": "ldap_salted_sha1",
}


class GeneratePassword(BaseRecipe):
    """Generate a password once, store it, and give it to other parts.

    Options:
      storage-path  the file keeping the password (mode 0600; a missing
                    directory made as mkdirectory makes one).
                    Default ``${buildout:parts-directory}/<part>``.
                    Given empty: the password is not persisted (keep it
                    elsewhere, or impose it with ``passwd``).
      passwd        impose this password (stored, hashed) instead of a
                    generated one; when it changes, the stored one is replaced.
      bytes         length of a generated password, default 16, at most 4096.
      chars         alphabet of a generated password, default letters and digits.

    Outputs: ``passwd``, and on demand ``passwd-<scheme>`` hashes
    (``sha256-crypt``, ``sha512-crypt``, ``bcrypt``, ``ssha``, or any passlib
    handler name with dashes), each computed once and kept beside the password
    in ``<storage-path>.hashes``. None of them is ever written to
    ``.installed.cfg``, printed by buildout or put in an error message.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        # The cookbook's create-once = false makes a new password each run;
        # slapkit always keeps it.
        if not self.opts.boolean("create-once", True):
            raise self.error(
                "create-once",
                "slapkit always keeps the stored password: only true (the default) is accepted",
            )
        if "storage-path" not in options:
            options["storage-path"] = os.path.join(buildout["buildout"]["parts-directory"], name)
        self.storage = self.local_path("storage-path")
        self.length = self.opts.integer("bytes", 16, minimum=1, maximum=MAX_LENGTH)
        chars = options.get("chars")
        self.chars = chars if chars else DEFAULT_CHARS
        if not self.chars.isprintable() or _BLANK.search(self.chars):
            # A password is read back as the file's one line: a generated
            # newline or blank at its end would be lost, and the password
            # would change from run to run.
            raise self.error("chars", "may hold no blank, line break or control character")
        if len(set(self.chars)) < 2:
            raise self.error("chars", "needs at least two different characters")
        imposed = take_out(options, "passwd")
        imposed = imposed.strip() if imposed else None
        self.hashes: dict[str, str] = {}
        if imposed:
            register_secret(imposed)
        self.password = self._load_or_create(imposed)
        register_secret(self.password)
        conceal(options, ("passwd",), self._lookup)

    @property
    def hashes_path(self) -> str | None:
        return self.storage + ".hashes" if self.storage else None

    def _generate(self) -> str:
        return "".join(secrets.choice(self.chars) for _ in range(self.length))

    def _load_or_create(self, imposed: str | None) -> str:
        if self.storage is None:
            return imposed or self._generate()
        directory = os.path.dirname(self.storage)
        try:
            # As mkdirectory would make it: the part that creates this
            # directory (srv, often) may run later, and keeps what it finds.
            os.makedirs(directory, exist_ok=True)
            # Two buildouts started at once must end with one password.
            with locked_directory(directory):
                for path in filter(None, (self.storage, self.hashes_path)):
                    self.remove_stale_temporaries(path)
                stored = _read_text(self.storage)
                converted = self._convert_cookbook_storage(stored, imposed)
                if converted is not None:
                    return converted
                if stored and (not imposed or imposed == stored):
                    self.hashes = self._load_hashes(stored)
                    for value in self.hashes.values():
                        register_secret(value)
                    return stored
                password = imposed or self._generate()
                replace_atomically(self.storage, password.encode("utf-8"), SECRET_MODE)
                self._save_hashes(password, {})
        except OSError as exc:
            raise self.error(
                "storage-path", f"cannot store the password in {self.storage!r}: {exc.strerror}"
            ) from None
        except UnicodeDecodeError:
            raise self.error(
                "storage-path",
                f"{self.storage!r} does not hold a UTF-8 password; "
                "remove it to have a new one made",
            ) from None
        self.report("updated password in" if stored else "created password in", self.storage)
        return password

    def _convert_cookbook_storage(self, stored: str | None, imposed: str | None) -> str | None:
        """Take over a password that slapos.cookbook:generate.password stored.

        The cookbook keeps ``{"": password, "passwd-<scheme>": hash}`` as JSON
        in the same default place: a profile that changes its ``recipe =``
        line keeps its password and its hashes (so their salts, and every
        config embedding them, stay). The file becomes slapkit's: the
        password alone, the hashes beside it.
        """
        if not stored or not stored.startswith("{") or stored == imposed:
            return None
        try:
            data = json.loads(stored)
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get(""), str) or not data[""]:
            return None
        password: str = data[""]
        if imposed and imposed != password:
            return None  # the profile imposes another one: stored as usual
        hashes = {
            key[len(HASH_PREFIX) :]: value
            for key, value in data.items()
            if key.startswith(HASH_PREFIX) and isinstance(value, str)
        }
        assert self.storage is not None  # only a stored password is converted
        replace_atomically(self.storage, password.encode("utf-8"), SECRET_MODE)
        self._save_hashes(password, hashes)
        self.hashes = hashes
        for value in hashes.values():
            register_secret(value)
        self.report("converted slapos.cookbook password in", self.storage)
        return password

    def _load_hashes(self, password: str) -> dict[str, str]:
        """The hashes stored for ``password``; none when the file is unusable
        (they are made again, and stored anew)."""
        try:
            data = json.loads(_read_text(self.hashes_path) or "{}")
        except ValueError:  # UnicodeDecodeError too
            return {}
        if not isinstance(data, dict) or not isinstance(data.get("salt", ""), str):
            return {}
        if data.get("for") != _fingerprint(password, data.get("salt", "")):
            return {}  # the password was changed by hand: hash again
        hashes = data.get("hashes")
        if not isinstance(hashes, dict):
            return {}
        return {k: v for k, v in hashes.items() if isinstance(k, str) and isinstance(v, str)}

    def _save_hashes(self, password: str, hashes: dict[str, str]) -> None:
        if not self.hashes_path:
            return
        salt = secrets.token_hex(8)
        data = {"salt": salt, "for": _fingerprint(password, salt), "hashes": hashes}
        replace_atomically(self.hashes_path, json.dumps(data, sort_keys=True).encode(), SECRET_MODE)

    def _lookup(self, option: str) -> str | None:
        """``passwd`` and ``passwd-<scheme>``, as other parts ask for them.

        The one place a part writes during another part's option lookup, on
        purpose: a hash is asked for by the part that uses it, in its
        constructor, often before this part installs, and its salt must be
        the same on every later run (or every config embedding it would
        change), so it is stored the moment it is made, as the password is.
        """
        if option == "passwd":
            return self.password
        if not option.startswith(HASH_PREFIX):
            return None
        scheme = option[len(HASH_PREFIX) :]
        if scheme not in self.hashes:
            self.hashes[scheme] = self._hash(option, scheme)
            register_secret(self.hashes[scheme])
            try:
                self._save_hashes(self.password, self.hashes)
            except OSError as exc:
                raise self.error(option, f"cannot store the hash: {exc.strerror}") from None
        return self.hashes[scheme]

    def _hash(self, option: str, scheme: str) -> str:
        try:
            import passlib.hash  # slow to import: only when a hash is asked for
        except ImportError:
            raise self.error(
                option, "password hashes need libpass (install slapkit[hashes])"
            ) from None
        handler_name = HASH_SCHEMES.get(scheme, scheme.replace("-", "_"))
        handler = getattr(passlib.hash, handler_name, None)
        if handler is None or not hasattr(handler, "hash"):
            known = ", ".join(sorted(HASH_SCHEMES))
            raise self.error(
                option,
                f"unknown hash scheme {scheme!r} (known: {known}, or a passlib handler name)",
            )
        try:
            hashed: str = handler.hash(self.password)
            return hashed
        except Exception as exc:  # e.g. passlib's MissingBackendError without bcrypt
            raise self.error(
                option, f"cannot hash with {scheme!r}: {exc} (install slapkit[hashes])"
            ) from None

    def install(self) -> list[str]:
        # The password was stored by the constructor; a file deleted by hand
        # since then is written again. Nothing is returned: never removed.
        if self.storage and _read_text(self.storage) != self.password:
            self.write("storage-path", self.storage, self.password, SECRET_MODE)
            self._save_hashes(self.password, self.hashes)
        return []


def _fingerprint(password: str, salt: str) -> str:
    # Stored 0600 beside the password itself: it protects nothing, it only
    # tells whether the hashes still belong to the stored password.
    return hashlib.sha256((salt + "\0" + password).encode("utf-8")).hexdigest()


def _read_text(path: str | None) -> str | None:
    """The file's text, a final line break dropped (``echo pw > file``); never
    read through a symlink found in the partition. Raises UnicodeDecodeError."""
    if not path:
        return None
    data = read_regular_file(path)
    return None if data is None else data.decode("utf-8").rstrip("\n")
