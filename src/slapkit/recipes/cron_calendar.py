"""Crontab schedules: the five fields and the ``@`` forms every cron reads,
and systemd calendar events (systemd.time(7)) as crontab schedules: the
part of them that cron can say, as slapos.cookbook's cron.d takes them."""

from __future__ import annotations

import re

NAMED = {
    "minutely": "* * * * *",
    "hourly": "0 * * * *",
    "daily": "0 0 * * *",
    "weekly": "0 0 * * 0",
    "monthly": "0 0 1 * *",
    "yearly": "0 0 1 1 *",
}
WEEKDAYS = {
    name: number
    for number, day in enumerate(
        ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
    )
    for name in (day, day[:3])
}
# (first value, last value) of minute, hour, day of month, month.
RANGES = ((0, 59), (0, 23), (1, 31), (1, 12))

MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# A crontab's five fields: (name, first value, last value, names). Names are
# spelled as every cron reads them, dcron (SlapOS's cron) included: three
# letters, lower case or capitalized (``jan``, ``Jan``; not ``JAN``).
CRON_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, MONTH_NAMES + tuple(name.capitalize() for name in MONTH_NAMES)),
    ("day of week", 0, 7, DAY_NAMES + tuple(name.capitalize() for name in DAY_NAMES)),
)
# The @ forms, as written: @annually and @midnight in the words every cron
# reads (dcron knows neither).
AT_FORMS = {
    "@reboot": "@reboot",
    "@hourly": "@hourly",
    "@daily": "@daily",
    "@weekly": "@weekly",
    "@monthly": "@monthly",
    "@yearly": "@yearly",
    "@annually": "@yearly",
    "@midnight": "0 0 * * *",
}
SCHEDULE_SYNTAX = (
    "five fields, minute hour day-of-month month day-of-week, each *, numbers, "
    "ranges a-b, steps */n or a-b/n, comma lists, names jan-dec and sun-sat; or "
    + ", ".join(AT_FORMS)
    + "; or a calendar event such as daily or Mon 10:30"
)
_BLANKS = re.compile(r"[ \t]+")
_NUMBER = re.compile(r"[0-9]{1,9}\Z")  # ASCII digits only: cron reads no other


def schedule(text: str) -> str:
    """The crontab schedule of ``text`` (stripped): five crontab fields as
    they are, an @ form, or a calendar event converted (see ``to_cron``).
    ValueError saying why for anything else, which cron would not read or
    would read as more than a schedule."""
    fields = _BLANKS.split(text)
    if len(fields) == 5:
        check_fields(fields)
        return text
    if text in AT_FORMS:
        return AT_FORMS[text]
    if not text.startswith("@") and len(fields) < 5:
        try:
            return to_cron(text)
        except ValueError:
            pass
    if len(fields) == 1:
        raise ValueError("it is neither five fields, an @ form nor a calendar event")
    raise ValueError(f"it has {len(fields)} fields")


def check_fields(fields: list[str]) -> None:
    """ValueError unless ``fields`` are five crontab fields cron reads."""
    if len(fields) != 5:
        raise ValueError(f"it has {len(fields)} fields")
    for value, (name, first, last, names) in zip(fields, CRON_FIELDS, strict=True):
        for item in value.split(","):
            body, slash, step = item.partition("/")
            if body != "*":
                start, dash, end = body.partition("-")
                if slash and not dash:  # cron steps through * or a range only
                    raise ValueError(f"{name}: {value!r} steps through neither * nor a range")
                for bound in (start, end) if dash else (start,):
                    _check_value(bound, name, value, first, last, names)
            if slash:
                if not _NUMBER.match(step):
                    raise ValueError(f"{name}: {value!r} has a step that is not a number")
                if not 1 <= int(step) <= last:
                    raise ValueError(f"{name}: a step of {int(step)} is not in 1-{last}")


def _check_value(
    text: str, name: str, field: str, first: int, last: int, names: tuple[str, ...]
) -> None:
    if text in names:
        return
    if not _NUMBER.match(text):
        named = f" or names {names[0]}-{names[len(names) // 2 - 1]}" if names else ""
        raise ValueError(f"{name}: {field!r} is not made of *, numbers{named}, - / and ,")
    if not first <= int(text) <= last:
        raise ValueError(f"{name}: {int(text)} is not in {first}-{last}")


def to_cron(spec: str) -> str:
    """``Mon..Fri 10:30`` style events (``Mon-Fri *-*-* 10:30``) as
    ``30 10 * * 1-5``; ValueError for what cron cannot say (years, seconds
    other than 0, a day of month together with weekdays)."""
    text = spec.strip()
    if text in NAMED:
        return NAMED[text]
    if not text:
        raise ValueError(spec)
    words = text.split(" ")
    weekdays = _weekdays(words[0])
    if weekdays != "*":
        words.pop(0)
    if len(words) > 2:
        raise ValueError(spec)
    date, time = "*-*", "0:0"
    if len(words) == 2:
        date, time = words
    elif len(words) == 1:
        if ":" in words[0]:
            time = words[0]
        else:
            date = words[0]
    day_parts, time_parts = date.split("-"), time.split(":")
    if len(day_parts) == 3:
        if day_parts.pop(0) != "*":
            raise ValueError(f"{spec}: cron has no years")
    if len(day_parts) != 2:
        raise ValueError(spec)
    if len(time_parts) == 3:
        if _number(time_parts.pop()) != 0:
            raise ValueError(f"{spec}: cron has no seconds")
    if len(time_parts) != 2:
        raise ValueError(spec)
    month, day = day_parts
    hour, minute = time_parts
    if weekdays != "*" and day != "*":
        raise ValueError(f"{spec}: a day of month and weekdays together")
    fields = [minute, hour, day, month]
    converted = [_field(value, *bounds) for value, bounds in zip(fields, RANGES, strict=True)]
    converted.append(weekdays)
    check_fields(converted)  # what cron cannot read is no conversion
    return " ".join(converted)


def _weekdays(word: str) -> str:
    """``Mon,Wed-Fri`` as ``1,3-5``; ``*`` when the word is not weekdays."""
    items = []
    for item in word.split(","):
        if not item:
            continue
        try:
            items.append("-".join(str(WEEKDAYS[name.lower()]) for name in item.split("-", 1)))
        except KeyError:
            return "*"
    return ",".join(sorted(items)) if items else "*"


def _number(text: str) -> int:
    # ASCII digits only: str.isdigit and int also take other scripts' digits
    # (``٣``), which cron never reads.
    if not (text.isascii() and text.isdigit()):
        raise ValueError(text)
    return int(text)


def _field(value: str, first: int, last: int) -> str:
    """One field: ``*``, numbers, comma lists; ``a/b`` (from a, every b) as
    the cron range ``a-z/b`` that holds the same values."""
    if value == "*":
        return value
    out = []
    for item in value.split(","):
        start_text, slash, step_text = item.partition("/")
        start = _number(start_text)
        if not first <= start <= last:
            raise ValueError(f"{start} is not in {first}..{last}")
        if not slash:
            out.append(start_text)
            continue
        step = _number(step_text)
        span = (last - start) // step * step if step > 0 else 0
        if not span:
            raise ValueError(f"{item}: repeats nothing")
        out.append(f"{start}-{start + span}/{step}")
    return ",".join(out)
