"""``slapkit:userinfo``: who runs the partition, as options."""

from __future__ import annotations

import grp
import os
import pwd
from collections.abc import MutableMapping
from typing import Any

from slapkit.core import BaseRecipe


class UserInfo(BaseRecipe):
    """The user and group running buildout (slapos.cookbook's userinfo).

    Options: none. Outputs: ``pw-name``, ``pw-uid``, ``pw-gid``, ``pw-dir``,
    ``pw-shell``, ``gr-name``, ``gr-gid``. A uid or gid without an entry in
    the system's databases (a container's) gives its number as the name and
    empty directory and shell.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        uid, gid = os.getuid(), os.getgid()
        try:
            user = pwd.getpwuid(uid)
            pw = (user.pw_name, str(user.pw_uid), str(user.pw_gid), user.pw_dir, user.pw_shell)
        except KeyError:
            pw = (str(uid), str(uid), str(gid), "", "")
        try:
            group_name = grp.getgrgid(gid).gr_name
        except KeyError:
            group_name = str(gid)
        for option, value in zip(
            ("pw-name", "pw-uid", "pw-gid", "pw-dir", "pw-shell"), pw, strict=True
        ):
            options[option] = value
        options["gr-name"] = group_name
        options["gr-gid"] = str(gid)

    def install(self) -> list[str]:
        return []

    def update(self) -> None:
        return None
