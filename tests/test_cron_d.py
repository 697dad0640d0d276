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
        ("05 1 * * 7", "05 1 * * 7"),
        ("*/5\t*  * * *", "*/5\t*  * * *"),  # blanks, as cron splits fields
        ("@reboot", "@reboot"),
        ("@midnight", "0 0 * * *"),  # in words dcron reads too
        ("@annually", "@yearly"),
        # The calendar events slapkit converts for ``time``.
        ("daily", "0 0 * * *"),
        ("Mon 10:30", "30 10 * * 1"),
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
        ("60 * * * *", "minute: 60 is not in 0-59"),
        ("* 24 * * *", "hour: 24 is not in 0-23"),
        ("* * 0 * *", "day of month: 0 is not in 1-31"),
        ("* * * 13 *", "month: 13 is not in 1-12"),
        ("* * * * 8", "day of week: 8 is not in 0-7"),
        ("*/0 * * * *", "minute: a step of 0"),
        ("*/60 * * * *", "minute: a step of 60"),
        ("5/2 * * * *", "minute: '5/2'"),
        ("1,,2 * * * *", "minute: '1,,2'"),
        ("-1 * * * *", "minute: '-1'"),
        ("\u0663 * * * *", "minute: '\u0663'"),  # Arabic-Indic three
        ("\uff11 * * * *", "minute: '\uff11'"),  # fullwidth one
        ("* * * * \u0661", "day of week: '\u0661'"),
        ("* * * mon *", "month: 'mon'"),  # a day's name is no month
        ("* * * JUL *", "month: 'JUL'"),  # dcron reads jul and Jul only
        ("* * * * january", "day of week: 'january'"),
        ("*\xa0* * * *", ""),  # non-breaking spaces are no blanks
        ("*\x00 * * * *", ""),
        ("* * * * *\x00touch X", ""),
        ("*\t*\t*\t*\t*\ttouch X", "it has 7 fields"),
        ("* * * * * \u2028touch X", ""),
        ("@every", ""),
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
    ],
)
def test_time_takes_ascii_digits_only(buildout, time):
    buildout.path("cron.d").mkdir()
    result = buildout.run(cron_user_profile(buildout, "time", time))
    assert not result.ok
    assert f"Error: [{PART}] time: {time!r} is not a systemd calendar event" in result.output
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
