"""slapkit:cron.d's schedules: what cron itself reads, nothing more.

A schedule may come from a user's parameter (``frequency =
${slap-parameter:schedule}``); each test sends it through slapkit:parameters
and real buildout, and looks at what lands in the cron.d directory.
"""

import json

import pytest

PART = "cron-entry-x"
COMMAND = "${buildout:directory}/bin/backup --all"


def cron_user_profile(buildout, option: str, value: str) -> str:
    """A cron.d part whose ``option`` is a user's parameter holding ``value``."""
    parameters = buildout.path("parameters.json")
    parameters.write_text(json.dumps({"schedule": value}))
    return (
        f"[buildout]\nparts = {PART}\n"
        f"[p]\nrecipe = slapkit:parameters\nparameters-file = {parameters}\nschedule =\n"
        f"[{PART}]\nrecipe = slapkit:cron.d\ncron-entries = {buildout.path('cron.d')}\n"
        f"name = x\n{option} = ${{p:schedule}}\ncommand = {COMMAND}\n"
    )


def entry(buildout):
    return buildout.path("cron.d", "x").read_text()


@pytest.mark.parametrize(
    "schedule, written",
    [
        ("*/5 * * * *", "*/5 * * * *"),
        ("0 4 * * mon-fri", "0 4 * * mon-fri"),
        ("30 2 1,15 Jan,jul *", "30 2 1,15 Jan,jul *"),
        ("0 23-7/2,8 * * *", "0 23-7/2,8 * * *"),  # dcron's ranges wrap
        ("0-59/15 0-23 1-31 1-12 0-7", "0-59/15 0-23 1-31 1-12 0-7"),
        ("*/1 * * * *", "*/1 * * * *"),  # the smallest step
        ("*/59 */23 */31 */12 */7", "*/59 */23 */31 */12 */7"),  # the largest
        ("05 1 * * 7", "05 1 * * 7"),
        ("*/5\t*  * * *", "*/5\t*  * * *"),  # blanks, as cron splits fields
        ("@reboot", "@reboot"),
        ("@midnight", "0 0 * * *"),  # in words dcron reads too
        ("@annually", "@yearly"),
        # The calendar events slapkit converts for ``time``.
        ("daily", "0 0 * * *"),
        ("Mon 10:30", "30 10 * * 1"),
        ("*-*-1 4:00", "00 4 1 * *"),
    ],
)
def test_a_cron_schedule_is_written(buildout, schedule, written):
    buildout.path("cron.d").mkdir()
    buildout.run(cron_user_profile(buildout, "frequency", schedule)).check()
    assert entry(buildout) == f"{written} {buildout.directory}/bin/backup --all\n"


EXPECTED = "is not a cron schedule (five fields"


@pytest.mark.parametrize(
    "schedule, detail",
    [
        ("* * * * * touch X #", "it has 8 fields"),  # the injection
        ("* * * * * *", "it has 6 fields"),
        ("* * * *", "it has 4 fields"),
        ("Mon 25:00", "it has 2 fields"),  # no calendar event either
        ("60 * * * *", "minute: 60 is not in 0-59"),
        ("* 24 * * *", "hour: 24 is not in 0-23"),
        ("* * 0 * *", "day of month: 0 is not in 1-31"),
        ("* * * 13 *", "month: 13 is not in 1-12"),
        ("* * * * 8", "day of week: 8 is not in 0-7"),
        ("*/0 * * * *", "minute: a step of 0"),
        ("*/60 * * * *", "minute: a step of 60"),
        ("5/2 * * * *", "minute: '5/2'"),
        ("1,,2 * * * *", "minute: '1,,2'"),
        ("-1 * * * *", "minute: '-1' is not made of *, numbers, - / and ,"),
        ("\u0663 * * * *", "minute: '\u0663'"),  # Arabic-Indic three
        ("\uff11 * * * *", "minute: '\uff11'"),  # fullwidth one
        ("* * * * \u0661", "day of week: '\u0661'"),
        # a day's name is no month
        ("* * * mon *", "month: 'mon' is not made of *, numbers or names jan-dec, - / and ,"),
        ("* * * JUL *", "month: 'JUL'"),  # dcron reads jul and Jul only
        (
            "* * * * january",
            "day of week: 'january' is not made of *, numbers or names sun-sat, - / and ,",
        ),
        ("*\xa0* * * *", ""),  # non-breaking spaces are no blanks
        ("*\x00 * * * *", ""),
        ("* * * * *\x00touch X", ""),
        ("*\t*\t*\t*\t*\ttouch X", "it has 7 fields"),
        ("* * * * * \u2028touch X", ""),
        ("@every", "it is neither five fields, an @ form nor a calendar event"),
        ("@DAILY", ""),
        ("@daily touch X", ""),
    ],
)
def test_a_user_value_that_is_no_schedule_is_refused(buildout, schedule, detail):
    buildout.path("cron.d").mkdir()
    result = buildout.run(cron_user_profile(buildout, "frequency", schedule))
    assert not result.ok
    assert f"Error: [{PART}] frequency: {schedule!r} {EXPECTED}" in result.output
    assert detail in result.output
    assert "Traceback" not in result.output
    assert list(buildout.path("cron.d").iterdir()) == []


@pytest.mark.parametrize(
    "time",
    [
        "\u0663:\u0660\u0665",  # 3:05 in Arabic-Indic digits
        "\uff11\uff10:30",  # fullwidth 10
        "*-*-\u0661 4:00",
        "1:2:\u0660",  # seconds
        "*:0/\u0661\u0665",  # a step
        "*:0/+15",  # int() reads it, cron does not
    ],
)
def test_time_takes_ascii_digits_only(buildout, time):
    buildout.path("cron.d").mkdir()
    result = buildout.run(cron_user_profile(buildout, "time", time))
    assert not result.ok
    assert f"Error: [{PART}] time: {time!r} is not a systemd calendar event" in result.output
    assert list(buildout.path("cron.d").iterdir()) == []


@pytest.mark.parametrize(
    "time, written",
    [
        ("daily", "0 0 * * *"),
        ("Mon-Fri 8:00", "00 8 * * 1-5"),  # numbers as written, as the cookbook does
        ("Sat,Sun 12:00", "00 12 * * 0,6"),
        ("*-*-1 4:00", "00 4 1 * *"),  # year *, dropped
        ("*-*-1", "0 0 1 * *"),  # a date alone: at midnight
        ("*-12-25 0:00", "00 0 25 12 *"),
        ("12-25 0:00", "00 0 25 12 *"),
        ("*-*-* 1:2:0", "2 1 * * *"),  # second 0, dropped
        # each field's first and last value
        ("1-1 0:0", "0 0 1 1 *"),
        ("12-31 23:59", "59 23 31 12 *"),
        # from a, every b: the cron range from a to the last value reached
        ("*:0/1", "0-59/1 * * * *"),
        ("*:0/15", "0-45/15 * * * *"),
        ("*:58/1", "58-59/1 * * * *"),
        ("0/6:00", "00 0-18/6 * * *"),
        ("*-*-2/10 0:00", "00 0 2-22/10 * *"),
        ("*-*-1/30 0:00", "00 0 1-31/30 * *"),
        ("1/4-1 0:00", "00 0 1 1-9/4 *"),
    ],
)
def test_a_calendar_event_is_written_as_cron_says_it(buildout, time, written):
    buildout.path("cron.d").mkdir()
    buildout.run(cron_user_profile(buildout, "time", time)).check()
    assert entry(buildout) == f"{written} {buildout.directory}/bin/backup --all\n"


@pytest.mark.parametrize(
    "time",
    [
        # each field's value just out of its range
        "*:60",
        "24:00",
        "*-*-0 0:00",
        "*-*-32 0:00",
        "*-0-1 0:00",
        "*-13-1 0:00",
        # what cron cannot say
        "2024-*-* 1:00",  # a year
        "*-2024-12-25 1:00",
        "*:*:30",  # a second
        "Mon *-*-1 1:00",  # weekdays and a day of month
        "*:59/2",  # repeats nothing
        "*:0/60",
        "*:0/0",
        # more than weekdays, a date and a time
        "*-*-* 10:30 x",
        "Mon *-*-* 10:30 x",
        "x",
    ],
)
def test_a_calendar_event_cron_cannot_say_is_refused(buildout, time):
    buildout.path("cron.d").mkdir()
    result = buildout.run(cron_user_profile(buildout, "time", time))
    assert not result.ok
    assert f"Error: [{PART}] time: {time!r} is not a systemd calendar event" in result.output
    assert "Traceback" not in result.output
    assert list(buildout.path("cron.d").iterdir()) == []


def test_a_refused_schedule_leaves_the_previous_entry(buildout):
    buildout.path("cron.d").mkdir()
    buildout.run(cron_user_profile(buildout, "frequency", "@daily")).check()
    before = entry(buildout)
    result = buildout.run(cron_user_profile(buildout, "frequency", "* * * * * touch X #"))
    assert not result.ok and EXPECTED in result.output
    assert entry(buildout) == before


def command_user_profile(buildout, command: str, value: str) -> str:
    """A cron.d part whose ``command`` brings in a user's parameter holding ``value``."""
    parameters = buildout.path("parameters.json")
    parameters.write_text(json.dumps({"target": value}))
    return (
        f"[buildout]\nparts = {PART}\n"
        f"[p]\nrecipe = slapkit:parameters\nparameters-file = {parameters}\ntarget = local\n"
        f"[{PART}]\nrecipe = slapkit:cron.d\ncron-entries = {buildout.path('cron.d')}\n"
        f"name = x\nfrequency = @daily\ncommand = {command}\n"
    )


@pytest.mark.parametrize(
    "value",
    [
        "x; touch /tmp/owned",
        "$(touch /tmp/owned)",
        "`id`",
        "a b",
        "x|sh",
        "x%touch y",
        "it's",
        "*",
        "x\u00a0y",  # a no-break space is a blank to the check, not to every shell
    ],
)
def test_a_user_value_a_shell_would_split_is_refused_in_the_command(buildout, value):
    buildout.path("cron.d").mkdir()
    buildout.run(command_user_profile(buildout, "/srv/bin/backup --to=local", "local")).check()
    before = entry(buildout)
    result = buildout.run(command_user_profile(buildout, "/srv/bin/backup --to=${p:target}", value))
    assert not result.ok
    assert f"Error: [{PART}] command: holds a user's parameter value, {value!r}" in result.output
    assert "slapkit:wrapper" in result.output
    assert entry(buildout) == before


@pytest.mark.parametrize("value", ["backup-1.example.com", "2001:db8::1", "a=b", "/srv/x", " "])
def test_a_plain_word_from_the_user_is_written(buildout, value):
    buildout.path("cron.d").mkdir()
    buildout.run(command_user_profile(buildout, "/srv/bin/backup --to=${p:target}", value)).check()
    target = "" if value == " " else value  # zc.buildout strips a value's blanks
    assert entry(buildout) == f"@daily /srv/bin/backup --to={target}\n"


def test_a_percent_sign_reaches_the_command_as_written(buildout, tmp_path):
    """cron ends the command at a bare ``%`` (the rest is its input); slapkit
    writes ``\\%``, which cron hands to the shell as ``%``."""
    buildout.path("cron.d").mkdir()
    buildout.run(
        command_user_profile(buildout, "date +%s > ${buildout:directory}/stamp", "local")
    ).check()
    assert entry(buildout) == f"@daily date +\\%s > {buildout.directory}/stamp\n"


@pytest.mark.parametrize("name", ["a/b", "../x", ".", "..", "x\x1by"])
def test_a_name_that_is_no_file_name_is_refused(buildout, name):
    """The entry's name may be a user's value too: it must not lead out of
    the cron.d directory."""
    buildout.path("cron.d").mkdir()
    parameters = buildout.path("parameters.json")
    parameters.write_text(json.dumps({"name": name}))
    result = buildout.run(
        f"[buildout]\nparts = {PART}\n"
        f"[p]\nrecipe = slapkit:parameters\nparameters-file = {parameters}\nname = x\n"
        f"[{PART}]\nrecipe = slapkit:cron.d\ncron-entries = {buildout.path('cron.d')}\n"
        f"name = ${{p:name}}\nfrequency = @daily\ncommand = {COMMAND}\n"
    )
    assert not result.ok
    assert f"Error: [{PART}] name: {name!r} is not a file name" in result.output
    assert list(buildout.path("cron.d").iterdir()) == []
    assert not buildout.path("x").exists()
