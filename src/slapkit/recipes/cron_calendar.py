"""systemd calendar events (systemd.time(7)) as crontab schedules: the
part of them that cron can say, as slapos.cookbook's cron.d takes them."""

from __future__ import annotations

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
    return " ".join(converted + [weekdays])


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
    if not text.isdigit():
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
