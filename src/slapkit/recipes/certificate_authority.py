"""``slapkit:certificate_authority``: a certificate authority run as a service."""

from __future__ import annotations

import inspect
import os
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.claims import claim, remove_unclaimed
from slapkit.core.files import executable_mode
from slapkit.core.options import PartOptions
from slapkit.recipes import certificate_authority_service

# Characters openssl's configuration syntax gives a meaning to ($ expands a
# variable, # starts a comment, \ and quotes escape): a path written into
# the configuration never holds one.
_CONFIG_SPECIAL = re.compile(r"[$#\\\"']")

CONFIGURATION = """\
# Written by slapkit:certificate_authority for part [{part}]; edits are overwritten.
# The authority signs whatever its requests directory asks for, by name.

[ ca ]
default_ca = signing

[ signing ]
dir = {ca_dir}
database = {ca_dir}/index.txt
serial = {ca_dir}/serial
crlnumber = {ca_dir}/crlnumber
new_certs_dir = {newcerts}
certificate = {ca_dir}/cacert.pem
private_key = {private}/cakey.pem
default_md = sha256
unique_subject = no
copy_extensions = none
policy = signing_policy
x509_extensions = server

[ signing_policy ]
commonName = supplied
countryName = optional
stateOrProvinceName = optional
localityName = optional
organizationName = optional
organizationalUnitName = optional
emailAddress = optional

[ server ]
basicConstraints = CA:FALSE
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer

[ authority ]
basicConstraints = critical,CA:TRUE
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always,issuer
keyUsage = critical,keyCertSign,cRLSign

[ req ]
distinguished_name = requested_name
string_mask = utf8only
prompt = no

[ requested_name ]
"""

SCRIPT = """#!{python}
# Written by slapkit:certificate_authority for part [{part}]; edits are overwritten.
{program}

if __name__ == "__main__":
    main({settings!r})
"""

# The fields of the authority's subject, and the cookbook's defaults.
SUBJECT_OPTIONS = {
    "country-code": ("country", "XX"),
    "email": ("email", "xx@example.com"),
    "state": ("state", "State"),
    "city": ("city", "City"),
    "company": ("company", "Company"),
}


class CertificateAuthority(BaseRecipe):
    """Drop-in for ``slapos.cookbook:certificate_authority``.

    Options:
      openssl-binary      (required) the ``openssl`` program.
      ca-dir              (required) the authority's directory: its
                          configuration (``openssl.cnf``), certificate
                          (``cacert.pem``) and database (``index.txt``,
                          ``serial``, ``crlnumber``).
      requests-directory  (required) where ``certificate_authority.request``
                          parts leave their requests.
      ca-private          (required) the keys (the authority's ``cakey.pem``).
      ca-certs            (required) the certificates it signs.
      ca-newcerts         (required) openssl's copy of each.
      ca-crl              accepted, as the cookbook's (no list is made).
      wrapper             (required) the service's script: put it in
                          ``etc/service`` with ``slapkit:wrapper``.
      country-code, email, state, city, company
                          the authority's subject (defaults ``XX``,
                          ``xx@example.com``, ``State``, ``City``,
                          ``Company``).

    The service makes the authority (a 2048-bit RSA key, 30 years) when its
    key or certificate is missing, then checks the requests directory every
    second and signs what is missing (keys 0600; a request that fails is
    tried again a minute later). The database files are made empty when
    missing and never rewritten: they are the authority's.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        paths = {}
        for option in (
            "ca-dir",
            "requests-directory",
            "ca-private",
            "ca-certs",
            "ca-newcerts",
            "openssl-binary",
        ):
            value = self.opts.required(option)
            if option == "openssl-binary" and "/" not in value:
                path = self.opts.checked_path(option, value)  # a program on PATH
            else:
                path = os.path.normpath(self.required_path(option))
            if _CONFIG_SPECIAL.search(path):
                raise self.error(
                    option,
                    f"{path!r}: a path with $, #, \\ or a quote is not written into "
                    "openssl's configuration",
                )
            paths[option] = path
        self.opts.text("ca-crl")
        self.ca_dir = paths["ca-dir"]
        self.configuration_path = os.path.join(self.ca_dir, "openssl.cnf")
        self.configuration = CONFIGURATION.format(
            part=name,
            ca_dir=self.ca_dir,
            newcerts=paths["ca-newcerts"],
            private=paths["ca-private"],
        )
        settings = {
            "openssl": paths["openssl-binary"],
            "config": self.configuration_path,
            "ca_dir": self.ca_dir,
            "key": os.path.join(paths["ca-private"], "cakey.pem"),
            "certificate": os.path.join(self.ca_dir, "cacert.pem"),
            "requests": paths["requests-directory"],
            "private": paths["ca-private"],
            "certs": paths["ca-certs"],
        }
        for option, (setting, default) in SUBJECT_OPTIONS.items():
            settings[setting] = self.opts.text(option, default)
        # The cookbook's state default was, by mistake, the text of a tuple.
        if settings["state"] == "('State',)":
            settings["state"] = "State"
        self.wrapper = self.required_path("wrapper")
        claim(self.wrapper)
        claim(self.configuration_path)
        program = inspect.getsource(certificate_authority_service)
        self.script = SCRIPT.format(
            python=sys.executable, part=name, program=program, settings=settings
        )

    def install(self) -> list[str]:
        for database, content in (("index.txt", ""), ("serial", "01\n"), ("crlnumber", "01\n")):
            path = os.path.join(self.ca_dir, database)
            if os.path.lexists(path):
                continue  # the authority's own record: never rewritten
            self.write("ca-dir", path, content, 0o600)
        self.write("ca-dir", self.configuration_path, self.configuration, 0o600)
        self.write("wrapper", self.wrapper, self.script, executable_mode())
        return []


def uninstall(name: str, options: Mapping[str, str]) -> None:
    """The service's script and the configuration go; the authority's key,
    certificates and database stay (data)."""
    opts = PartOptions(name, options)
    paths = [opts.text("wrapper") or ""]
    ca_dir = opts.text("ca-dir")
    if ca_dir:
        paths.append(os.path.join(ca_dir, "openssl.cnf"))
    remove_unclaimed(name, paths)
