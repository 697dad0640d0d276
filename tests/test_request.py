"""slapkit:request and its family through real buildout: against a real
SlapOS master (slapos proxy), and against the runner's answers file when
there is none."""

import json

import pytest

from slapos_master import COMPUTER_ID, SOFTWARE_URL
from test_error_paths import error_in


def profile(recipe: str, connection: str, extra: str = "") -> str:
    return f"""
[buildout]
parts = seen

{connection}

[child]
recipe = {recipe}
software-url = {SOFTWARE_URL}
name = child
software-type = worker
config-size = 3
config-empty =
sla-computer_guid = {COMPUTER_ID}
return = url port
{extra}

[seen]
recipe = slapkit:jinja2
output = ${{buildout:directory}}/seen
inline = [{{{{ url }}}}] [{{{{ port }}}}] {{{{ state }}}}
context =
  key url child:connection-url
  key port child:connection-port
  key state child:requested-state
"""


def child_of(master, root_id: str):
    """The requested instance, as its own partition sees it (the master's
    computer has two partitions: the root's and the child's)."""
    (child_id,) = {"slappart0", "slappart1"} - {root_id}
    return master.client().registerComputerPartition(COMPUTER_ID, child_id)


def test_a_request_to_a_real_master_sends_parameters_and_reads_what_is_published(
    buildout, slapos_master
):
    root = slapos_master.request("root", {})
    text = profile("slapkit:request", slapos_master.connection_section(root.getId()))
    result = buildout.run(text)
    # Mandatory: nothing published yet stops the run, one line naming it.
    error_in(result, "[child] return: 'child' has not published 'url', 'port' yet")
    child = child_of(slapos_master, root.getId())
    assert child.getInstanceParameterDict()["size"] == "3"
    assert "empty" not in child.getInstanceParameterDict()  # an empty parameter is none
    assert child.getType() == "worker"
    child.setConnectionDict({"url": "http://child/", "port": "8080"})
    buildout.run(text).check()
    assert buildout.path("seen").read_text() == "[http://child/] [8080] started"


def test_an_optional_request_not_ready_gives_empty_outputs_and_says_so(buildout, slapos_master):
    root = slapos_master.request("root", {})
    text = profile("slapkit:requestoptional", slapos_master.connection_section(root.getId()))
    result = buildout.run(text).check()
    assert buildout.path("seen").read_text() == "[] [] started"
    assert "child: optional request: 'child' has not published 'url', 'port' yet" in result.output


def test_a_serialised_request_sends_and_reads_one_json_parameter(buildout, slapos_master):
    root = slapos_master.request("root", {})
    text = profile("slapkit:request.serialised", slapos_master.connection_section(root.getId()))
    error_in(buildout.run(text), "[child] return: 'child' has not published")
    child = child_of(slapos_master, root.getId())
    assert json.loads(child.getInstanceParameterDict()["_"]) == {"size": "3"}
    child.setConnectionDict({"_": json.dumps({"url": "http://child/", "port": 8080})})
    buildout.run(text).check()
    assert buildout.path("seen").read_text() == "[http://child/] [8080] started"


LOCAL = "[slap-connection]\nserver-url =\nrequested-file = {answers}\n"


def test_without_a_master_the_runners_answers_are_what_the_master_gives(buildout):
    answers = buildout.path("requested.json")
    connection = LOCAL.format(answers=answers)
    answers.write_text(json.dumps({"child": {"url": "http://child/", "port": "8080"}}))
    buildout.run(profile("slapkit:request", connection)).check()
    assert buildout.path("seen").read_text() == "[http://child/] [8080] started"

    answers.write_text(json.dumps({"child": {"url": "http://child/"}}))
    error_in(
        buildout.run(profile("slapkit:request", connection)),
        "[child] return: 'child' has not published 'port' yet",
    )
    answers.write_text("{}")
    result = buildout.run(profile("slapkit:requestoptional", connection)).check()
    assert buildout.path("seen").read_text() == "[] [] started"
    assert "child: optional request: 'child' has no answer yet" in result.output

    # A serialised request reads the answer's "_" when it holds one.
    answers.write_text(json.dumps({"child": {"_": json.dumps({"url": "u", "port": 1})}}))
    buildout.run(profile("slapkit:request.serialised", connection)).check()
    assert buildout.path("seen").read_text() == "[u] [1] started"


@pytest.mark.parametrize(
    "extra, expected",
    [
        ("state = bogus", "[child] state: 'bogus' is not one of started, stopped, destroyed"),
        ("config = size", "[child] config: obsolete (as in slapos.cookbook)"),
        ("sla = x", "[child] sla: obsolete (as in slapos.cookbook)"),
        ("shared = maybe", "[child] shared: 'maybe' is not a boolean"),
    ],
)
def test_bad_options_are_user_errors(buildout, extra, expected):
    answers = buildout.path("requested.json")
    answers.write_text("{}")
    result = buildout.run(profile("slapkit:requestoptional", LOCAL.format(answers=answers), extra))
    error_in(result, expected)
    assert not buildout.path("seen").exists()


@pytest.mark.parametrize("planted", ["[1, 2]", '{"child": "text"}', "not json", "fifo", "link"])
def test_a_bad_or_planted_answers_file_is_one_error_line(buildout, tmp_path, planted):
    import os

    answers = buildout.path("requested.json")
    if planted == "fifo":
        os.mkfifo(answers)
    elif planted == "link":
        target = tmp_path / "elsewhere.json"
        target.write_text('{"child": {"url": "x", "port": "1"}}')
        answers.symlink_to(target)
    else:
        answers.write_text(planted)
    result = buildout.run(profile("slapkit:request", LOCAL.format(answers=answers)))
    assert result.returncode == 1
    assert "Traceback" not in result.output
    assert "Error: [child] name: " in result.output, result.output
    assert not buildout.path("seen").exists()


PUBLISHED_IS_DATA = """
[buildout]
parts = crontab out pw

[slap-connection]
server-url =
requested-file = {answers}

[pw]
recipe = slapkit:generate.password
storage-path = ${{buildout:directory}}/pw

[req]
recipe = slapkit:requestoptional
software-url = https://example.invalid/software.cfg
name = worker-1
config-password = ${{pw:passwd}}
return = {returned}

[crontab]
recipe = slapkit:cron.d
cron-entries = ${{buildout:directory}}/cron.d
name = job
frequency = * * * * *
command = /bin/echo ${{req:connection-cmd}}

[out]
recipe = slapkit:jinja2
output = ${{buildout:directory}}/out
inline = {{{{ url.__class__.__name__ }}}}
context = key url req:connection-url
"""


def test_what_a_requested_instance_publishes_is_a_users_data(buildout):
    """Its parameters came from users: a published value is refused where a
    user's parameter is, never decoded as !py!, and a secret it hands back
    stays out of .installed.cfg."""
    answers = buildout.path("requested.json")
    text = PUBLISHED_IS_DATA.format(answers=answers, returned="cmd url")
    buildout.path("cron.d").mkdir()
    answers.write_text(json.dumps({"worker-1": {"cmd": "x; touch /tmp/owned", "url": "u"}}))
    error_in(buildout.run(text), "[crontab] command: holds a user's parameter value")

    answers.write_text(json.dumps({"worker-1": {"cmd": "x", "url": "!py!{'admin': True}"}}))
    buildout.run(text).check()
    assert buildout.path("out").read_text() == "str"

    password = buildout.path("pw").read_text().strip()
    answers.write_text(json.dumps({"worker-1": {"cmd": "x", "url": "u", "password": password}}))
    buildout.run(PUBLISHED_IS_DATA.format(answers=answers, returned="cmd url password")).check()
    assert password not in buildout.path(".installed.cfg").read_text()


@pytest.mark.parametrize("name", ["e:f", "c[d]", "ü"])
def test_a_returned_name_buildout_cannot_keep_is_refused(buildout, name):
    answers = buildout.path("requested.json")
    answers.write_text("{}")
    text = profile("slapkit:requestoptional", LOCAL.format(answers=answers))
    result = buildout.run(text.replace("return = url port", f"return = url port {name}"))
    error_in(result, f"[child] return: {name!r} cannot be an option name")


def test_a_serialised_answer_nested_too_deep_is_one_error_line(buildout):
    answers = buildout.path("requested.json")
    answers.write_text(json.dumps({"child": {"_": "[" * 100000 + "]" * 100000}}))
    result = buildout.run(profile("slapkit:request.serialised", LOCAL.format(answers=answers)))
    error_in(result, "[child] name: the answer for 'child' has a '_' that is not JSON")


def test_a_master_that_cannot_be_reached_is_named_without_its_credentials(buildout):
    from slapos_master import free_port

    pytest.importorskip("slapos.slap")
    connection = (
        f"[slap-connection]\nserver-url = http://admin:hunter2@127.0.0.1:{free_port()}/\n"
        "computer-id = COMP-X\npartition-id = slappart0\n"
    )
    result = buildout.run(profile("slapkit:request", connection))
    error_in(result, "[child] server-url: the master at 'http://127.0.0.1:")
    assert "hunter2" not in result.output
