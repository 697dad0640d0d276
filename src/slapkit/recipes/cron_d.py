"""``slapkit:cron.d``: one crontab entry, in a cron.d directory."""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.user_values import shell_special_user_value_in
from slapkit.recipes.cron_calendar import SCHEDULE_SYNTAX, schedule, to_cron


class CronD(BaseRecipe):
    """Write ``<cron-entries>/<name>`` holding one line, ``SCHEDULE COMMAND``
    (slapos.cookbook's cron.d).

    Options:
      cron-entries  (required) the directory the partition's cron reads.
      name          (required) the entry's file name.
      frequency     a crontab schedule, one of:
                    - five fields separated by blanks (spaces, tabs):
                      minute (0-59), hour (0-23), day of month (1-31),
                      month (1-12, ``jan``-``dec``), day of week (0-7,
                      ``sun``-``sat``); each ``*``, a number, a range
                      ``a-b`` (``b`` below ``a`` wraps, as in dcron), or
                      either with a step ``*/n``, ``a-b/n`` (n from 1 to
                      the field's last value), in comma lists. Numbers are
                      ASCII digits; names three letters, lower case or
                      capitalized. Written as it is.
                    - ``@reboot``, ``@hourly``, ``@daily``, ``@weekly``,
                      ``@monthly``, ``@yearly``, ``@annually`` (written
                      ``@yearly``), ``@midnight`` (written ``0 0 * * *``).
                    - a calendar event as ``time`` takes it, converted.
                    Anything else is refused: a schedule is never more
                    than a schedule (``* * * * * touch X #``, from a
                    user's value, would add a command).
      time          a systemd calendar event (``daily``, ``Mon 10:30``,
                    ``*-*-1 4:00``; ASCII digits), converted to a crontab
                    schedule; used when ``frequency`` is not given.
      command       (required) the command line, run by a shell as written:
                    each ``%`` is written ``\\%`` so that cron passes it on
                    (an unescaped ``%`` would end the command there).

    Written only when it changed; the part's file is removed with the part.
    A line break in the command is refused: it would add entries. So is a
    user's parameter value (brought in by ``${…}``) that a shell would read
    as more than one plain word (``x; touch y``, ``$(…)``, a blank, a
    quote): the user would choose the command. Pass such a value to a
    ``slapkit:wrapper`` (its ``environment``) and run the wrapper here.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        directory = self.required_path("cron-entries")
        entry = self.opts.required("name")
        if "/" in entry or entry in (".", "..") or not entry.isprintable():
            raise self.error("name", f"{entry!r} is not a file name")
        self.path = os.path.join(directory, entry)
        frequency = self.opts.text("frequency")
        if frequency is not None:
            try:
                frequency = schedule(frequency)
            except ValueError as exc:
                raise self.error(
                    "frequency",
                    f"{frequency!r} is not a cron schedule ({SCHEDULE_SYNTAX}): {exc}",
                ) from None
        else:
            time = self.opts.text("time")
            if time is None:
                raise self.error("frequency", "is required (or time) and was not given")
            try:
                frequency = to_cron(time)
            except ValueError:
                raise self.error(
                    "time", f"{time!r} is not a systemd calendar event that cron can say"
                ) from None
        command = self.opts.required("command")
        if any(char in command for char in "\n\r\x00"):
            raise self.error("command", "holds a line break: one entry is one line")
        user_value = shell_special_user_value_in(command)
        if user_value is not None:
            raise self.error(
                "command",
                f"holds a user's parameter value, {user_value!r}, that a shell would not "
                "read as one plain word; pass it to a slapkit:wrapper (environment) and "
                "run the wrapper",
            )
        self.line = f"{frequency} {command.replace('%', chr(92) + '%')}\n"

    def install(self) -> list[str]:
        self.write("cron-entries", self.path, self.line)
        return [self.path]

    def update(self) -> list[str]:
        return self.install()
