"""slapkit:free_port, symbolic.link, cron.d and userinfo through real
buildout, beside the cookbook's namesakes where those run here."""

import json
import os
import socket

import pytest

from buildout_harness import snapshot


def render(section: str) -> str:
    """A jinja2 part writing the options of ``section`` as JSON."""
    return (
        f"\n[show-{section}]\nrecipe = slapkit:jinja2\noutput = ${{buildout:directory}}/{section}.json\n"
        f"inline = {{{{ dict(s) | tojson }}}}\ncontext =\n  section s {section}\n"
    )


def shown(buildout, section):
    return json.loads(buildout.path(f"{section}.json").read_text())


# -- userinfo


def test_userinfo_gives_what_the_cookbooks_gives(buildout):
    pytest.importorskip("slapos.recipe.userinfo")
    names = ("pw-name", "pw-uid", "pw-gid", "pw-dir", "pw-shell", "gr-name", "gr-gid")
    text = (
        "[buildout]\nparts = show-mine show-theirs\n"
        "[mine]\nrecipe = slapkit:userinfo\n[theirs]\nrecipe = slapos.cookbook:userinfo\n"
        + render("mine")
        + render("theirs")
    )
    buildout.run(text).check()
    mine, theirs = shown(buildout, "mine"), shown(buildout, "theirs")
    assert {k: mine[k] for k in names} == {k: theirs[k] for k in names}
    assert mine["pw-uid"] == str(os.getuid())


# -- free_port


def free_port_profile(options, ip="127.0.0.1"):
    return (
        "[buildout]\nparts = show-port\n"
        f"[port]\nrecipe = slapkit:free_port\nip = {ip}\n{options}\n" + render("port")
    )


def test_free_port_is_the_first_free_one_and_is_kept(buildout):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        taken = busy.getsockname()[1]
        buildout.run(free_port_profile(f"minimum = {taken}\nmaximum = {taken + 50}")).check()
        port = int(shown(buildout, "port")["port"])
        assert taken < port < taken + 50  # the busy one skipped
    with socket.socket() as service:  # the service now holds it
        service.bind(("127.0.0.1", port))
        service.listen()
        result = buildout.run().check()
        assert int(shown(buildout, "port")["port"]) == port
        assert "Installing" not in result.output


def test_free_port_as_the_cookbook_picks_it(buildout):
    pytest.importorskip("slapos.recipe.free_port")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        start = probe.getsockname()[1]
    text = (
        "[buildout]\nparts = show-mine show-theirs\n"
        f"[mine]\nrecipe = slapkit:free_port\nip = 127.0.0.1\nminimum = {start}\nmaximum = {start + 20}\n"
        f"[theirs]\nrecipe = slapos.cookbook:free_port\nip = 127.0.0.1\nminimum = {start}\n"
        f"maximum = {start + 20}\n" + render("mine") + render("theirs")
    )
    buildout.run(text).check()
    assert shown(buildout, "mine")["port"] == shown(buildout, "theirs")["port"]


@pytest.mark.parametrize(
    "options, ip, expected",
    [
        ("minimum = 8080\nmaximum = 8080", "127.0.0.1", "8080"),
        ("", "not-an-address", "0"),
        # The ends of the range a port can be in, each taken as given.
        ("minimum = 1\nmaximum = 1", "127.0.0.1", "1"),
        ("minimum = 65535\nmaximum = 65535", "127.0.0.1", "65535"),
        ("maximum = 1024", "127.0.0.1", "1024"),  # the default minimum
    ],
    ids=["fixed", "unknown-family", "port-1", "port-65535", "default-minimum"],
)
def test_free_port_fixed_and_unknown_family(buildout, options, ip, expected):
    buildout.run(free_port_profile(options, ip)).check()
    assert shown(buildout, "port")["port"] == expected


@pytest.mark.parametrize(
    "options, expected",
    [
        ("minimum = 9000\nmaximum = 8000", "minimum: 9000 is more than the maximum, 8000"),
        ("minimum = 49152", "minimum: 49152 is more than the maximum, 49151"),  # the default
        ("minimum = 0\nmaximum = 8000", "minimum: 0 is less than 1"),
        ("minimum = 65536\nmaximum = 65535", "minimum: 65536 is more than 65535"),
        ("maximum = 0", "maximum: 0 is less than 1"),
        ("maximum = 65536", "maximum: 65536 is more than 65535"),
    ],
    ids=["min-over-max", "min-over-default-max", "min-0", "min-65536", "max-0", "max-65536"],
)
def test_free_port_bad_range_names_the_option(buildout, options, expected):
    result = buildout.run(free_port_profile(options))
    assert not result.ok
    assert f"[port] {expected}" in result.output
    assert "Traceback" not in result.output


def test_free_port_on_ipv6(buildout):
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            start = probe.getsockname()[1]
    except OSError:
        pytest.skip("no IPv6 loopback here")
    buildout.run(free_port_profile(f"minimum = {start}\nmaximum = {start + 20}", "::1")).check()
    assert start <= int(shown(buildout, "port")["port"]) < start + 20


def test_free_port_none_free_gives_0_then_a_port_on_the_next_run(buildout):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        taken = busy.getsockname()[1]
        profile = free_port_profile(f"minimum = {taken}\nmaximum = {taken + 1}")
        buildout.run(profile).check()
        assert shown(buildout, "port")["port"] == "0"
    # Freed: the 0 saved is not kept, the port is chosen again.
    buildout.run().check()
    assert shown(buildout, "port")["port"] == str(taken)


def test_free_port_added_to_a_deployed_instance(buildout):
    """buildout's record of installed parts exists, without this part."""
    buildout.run("[buildout]\nparts = show-other\n[other]\nx = 1\n" + render("other")).check()
    assert "[show-other]" in buildout.path(".installed.cfg").read_text()
    buildout.run(free_port_profile("minimum = 8080\nmaximum = 8080")).check()
    assert shown(buildout, "port")["port"] == "8080"


def test_free_port_a_saved_port_is_kept_even_the_last_one(buildout):
    fixed = "minimum = {0}\nmaximum = {0}"
    buildout.run(free_port_profile(fixed.format(65535))).check()
    buildout.run(free_port_profile(fixed.format(8080))).check()
    assert shown(buildout, "port")["port"] == "65535"  # whatever the range says now


def test_free_port_a_saved_number_that_is_no_port_is_not_kept(buildout):
    """The cookbook's free_port, which the part used before, takes any
    minimum = maximum and saved 65536: no port, so one is chosen."""
    pytest.importorskip("slapos.recipe.free_port")
    fixed = "minimum = {0}\nmaximum = {0}"
    cookbook = free_port_profile(fixed.format(65536)).replace(
        "slapkit:free_port", "slapos.cookbook:free_port"
    )
    buildout.run(cookbook).check()
    assert shown(buildout, "port")["port"] == "65536"
    buildout.run(free_port_profile(fixed.format(8080))).check()
    assert shown(buildout, "port")["port"] == "8080"


def test_free_port_a_saved_port_edited_into_other_digits_is_not_kept(buildout):
    """.installed.cfg is a file found in the partition: a saved port of
    non-ASCII digits (int() would take "\u0668\u0660" as 80) is not a port
    slapkit saved, and "\u00b2" (a digit to str.isdigit) made a traceback."""
    profile = free_port_profile("minimum = 20000\nmaximum = 20100")
    buildout.run(profile).check()
    saved = shown(buildout, "port")["port"]
    record = buildout.path(".installed.cfg")
    for edited in ("\u00b2", "\u0668\u0660"):
        record.write_text(record.read_text().replace(f"port = {saved}", f"port = {edited}"))
        result = buildout.run(profile)
        assert result.ok and "Traceback" not in result.output, result.output
        saved = shown(buildout, "port")["port"]
        assert saved.isascii() and 20000 <= int(saved) <= 20100


# -- symbolic.link


def links_profile(buildout, targets, part="links"):
    lines = "\n  ".join(str(t) for t in targets)
    return (
        f"[buildout]\nparts = {part}\n[{part}]\nrecipe = slapkit:symbolic.link\n"
        f"target-directory = {buildout.path('bin')}\nlink-binary =\n  {lines}\n"
    )


def test_symbolic_links_made_once_replaced_when_wrong_removed_with_the_part(buildout):
    buildout.path("bin").mkdir()
    targets = ["/usr/bin/env", "/bin/sh"]
    result = buildout.run(links_profile(buildout, targets)).check()
    assert os.readlink(buildout.path("bin", "env")) == "/usr/bin/env"
    assert os.readlink(buildout.path("bin", "sh")) == "/bin/sh"
    assert "links: created" in result.output
    before = snapshot(buildout.directory)
    assert "links:" not in buildout.run().check().output
    assert snapshot(buildout.directory) == before
    os.unlink(buildout.path("bin", "sh"))
    os.symlink("/elsewhere", buildout.path("bin", "sh"))
    buildout.run().check()
    assert os.readlink(buildout.path("bin", "sh")) == "/bin/sh"
    buildout.run("[buildout]\nparts =\n").check()
    assert not os.path.lexists(buildout.path("bin", "env"))


def test_symbolic_link_never_replaces_a_file(buildout):
    buildout.path("bin").mkdir()
    buildout.path("bin", "env").write_text("mine")
    result = buildout.run(links_profile(buildout, ["/usr/bin/env"]))
    assert not result.ok
    assert "exists and is not a link" in result.output
    assert buildout.path("bin", "env").read_text() == "mine"


def test_symbolic_links_as_the_cookbook_makes_them(buildout):
    pytest.importorskip("slapos.recipe.symbolic_link")
    for name in ("mine", "theirs"):
        buildout.path(name).mkdir()
    text = (
        "[buildout]\nparts = mine theirs\n"
        f"[mine]\nrecipe = slapkit:symbolic.link\ntarget-directory = {buildout.path('mine')}\n"
        "link-binary = /usr/bin/env /bin/sh\n"
        f"[theirs]\nrecipe = slapos.cookbook:symbolic.link\n"
        f"target-directory = {buildout.path('theirs')}\nlink-binary = /usr/bin/env /bin/sh\n"
    )
    buildout.run(text).check()
    for name in ("env", "sh"):
        assert os.readlink(buildout.path("mine", name)) == os.readlink(
            buildout.path("theirs", name)
        )


# -- cron.d

SPECS = [
    "daily",
    "hourly",
    "Mon 10:30",
    "Mon-Fri 8:00",
    "Sat,Sun 12:00",
    "*-*-1 4:00",
    "12-25 0:00",
    "0/15:00",
    "*:0/15",
    "*:5,35",
    "*-*-* 1:2:0",
    "2024-*-* 1:00",
    "*:*:30",
    "Mon *-*-1 1:00",
    "*-*-31/2 1:00",
    "25:00",
    "x",
    "",
]


def test_systemd_calendar_events_convert_as_the_cookbook_converts_them():
    dcron = pytest.importorskip("slapos.recipe.dcron")
    from slapkit.recipes.cron_calendar import to_cron

    def theirs(spec):
        try:
            return dcron.systemd_to_cron(spec)
        except Exception:
            return "error"

    def mine(spec):
        try:
            return to_cron(spec)
        except ValueError:
            return "error"

    assert [mine(s) for s in SPECS] == [theirs(s) for s in SPECS]
    assert mine("Mon-Fri 8:00") == "00 8 * * 1-5"


def cron_profile(
    buildout,
    schedule,
    command="${buildout:directory}/bin/backup --all",
    recipe="slapkit:cron.d",
    name="backup",
):
    return (
        f"[buildout]\nparts = {name}\n[{name}]\nrecipe = {recipe}\n"
        f"cron-entries = {buildout.path('cron.d')}\nname = {name}\n{schedule}\ncommand = {command}\n"
    )


def test_cron_entry_written_once_and_as_the_cookbook_writes_it(buildout):
    pytest.importorskip("slapos.recipe.dcron")
    buildout.path("cron.d").mkdir()
    for schedule in ("time = Mon 10:30", "frequency = */5 * * * *"):
        text = cron_profile(buildout, schedule).replace(
            "[buildout]\nparts = backup", "[buildout]\nparts = backup theirs"
        )
        text += cron_profile(
            buildout, schedule, recipe="slapos.cookbook:cron.d", name="theirs"
        ).split("\n", 2)[2]
        buildout.run(text).check()
        assert (
            buildout.path("cron.d", "backup").read_bytes()
            == buildout.path("cron.d", "theirs").read_bytes()
        )
    before = snapshot(buildout.directory)["cron.d/backup"]
    result = buildout.run().check()  # (the cookbook rewrites its own each time)
    assert snapshot(buildout.directory)["cron.d/backup"] == before
    assert "backup:" not in result.output


@pytest.mark.parametrize(
    "schedule, command, expected",
    [
        (
            "time = *:*:30",
            "x",
            "[backup] time: '*:*:30' is not a systemd calendar event that cron can say",
        ),
        ("", "x", "[backup] frequency: is required (or time) and was not given"),
        ("frequency = * * * * *", "${x:y}", "[backup] command: holds a line break"),
    ],
)
def test_cron_errors_name_the_option(buildout, schedule, command, expected):
    buildout.path("cron.d").mkdir()
    text = cron_profile(buildout, schedule, command) + "[x]\ny = a\n  * * * * * evil\n"
    result = buildout.run(text)
    assert not result.ok and expected in result.output
    assert not buildout.path("cron.d", "backup").exists()
