"""slapkit:promise.plugin through real buildout, and its plugins run by
slapgrid's own promise launcher (slapos.core) under slapkit deploy."""

import ast
import os

import pytest

from slapkit.runner import promises
from slapkit.runner.supervisor import Supervisor
from test_runner import slapkit

PLUGIN = """
import os
from zope.interface import implementer
from slapos.grid.promise import interface
from slapos.grid.promise.generic import GenericPromise


@implementer(interface.IPromise)
class RunPromise(GenericPromise):
    def sense(self):
        path = self.getConfig("file-to-check")
        if os.path.exists(path):
            self.logger.info("%s is there" % path)
        else:
            self.logger.error("%s is missing" % path)

    def test(self):
        return self._test(result_count=1, failure_amount=1)

    def anomaly(self):
        return self._anomaly(result_count=1, failure_amount=1)
"""

PROFILE = """
[buildout]
parts = directory mine {theirs_part}

[directory]
recipe = slapkit:mkdirectory
plugin = ${{buildout:directory}}/etc/plugin

[mine]
recipe = slapkit:promise.plugin
output = ${{directory:plugin}}/check-ready.py
file = {plugin}
config-file-to-check = ${{buildout:directory}}/ready

[theirs]
recipe = slapos.cookbook:promise.plugin
output = ${{directory:plugin}}/cookbook-check-ready.py
file = {plugin}
config-file-to-check = ${{buildout:directory}}/ready
eggs =
"""


@pytest.fixture(autouse=True)
def empty_index(tmp_path_factory, monkeypatch):
    """No test here reads a package index on the network: zc.buildout's
    default index is an empty local directory, for the buildouts forked from
    this process and for those run as programs (``slapkit deploy``). Where a
    profile looks an egg up, it also says so itself (``offline_options``);
    zc.buildout.easy_install.working_set, which the promise.plugin recipes
    call, honours none of that (see the xfail test below): this fixture is
    what keeps them off the network."""
    import zc.buildout.easy_install as easy_install

    index = tmp_path_factory.mktemp("empty-index")
    url = index.as_uri() + "/"
    monkeypatch.setenv("buildout_testing_index_url", url)
    monkeypatch.setattr(easy_install, "default_index_url", url)
    monkeypatch.setattr(easy_install, "_indexes", {})  # none made for another index
    return index


def offline_options(index) -> str:
    """[buildout] options of a profile whose parts look up eggs: from what
    is installed only (zc.buildout's options for that)."""
    return f"offline = true\nindex = {index.as_uri()}/\nfind-links =\nallow-hosts =\n"


@pytest.fixture
def partition(tmp_path):
    directory = tmp_path / "partition"
    yield directory
    Supervisor(directory).shutdown()


def write_profile(tmp_path, theirs=True):
    plugin = tmp_path / "ready_promise.py"
    plugin.write_text(PLUGIN)
    profile = tmp_path / "instance.cfg"
    profile.write_text(PROFILE.format(plugin=plugin, theirs_part="theirs" if theirs else ""))
    return profile


def test_plugins_run_by_slapgrids_launcher_as_the_cookbooks_do(tmp_path, partition):
    pytest.importorskip("slapos.grid.promise")
    pytest.importorskip("slapos.recipe.promise_plugin")
    profile = write_profile(tmp_path)
    args = ["deploy", profile, "--partition", partition, "--promise-timeout", "0"]
    first = slapkit(*args, check=False)
    assert first.returncode == 1
    ready = partition / "ready"
    for name in ("check-ready.py", "cookbook-check-ready.py"):
        assert f"FAILING   plugin/{name}: {ready} is missing" in first.stdout
    ready.write_text("")
    status = slapkit("status", partition)
    for name in ("check-ready.py", "cookbook-check-ready.py"):
        assert f"kept      plugin/{name}" in status.stdout
    second = slapkit(*args)
    assert "files        0 changed" in second.stdout


def test_values_are_literals_and_names_are_checked(buildout):
    hostile = "a'b\"c\n${x}\\n'); import os #"
    text = (
        "[buildout]\nparts = p\n[x]\nv = "
        + hostile.replace("\n", "\n  ").replace("${x}", "$${x}")
        + "\n"
        f"[p]\nrecipe = slapkit:promise.plugin\noutput = {buildout.path('p.py')}\n"
        "module = slapos.promise.plugin.check_port_listening\nconfig-value = ${x:v}\nconfig-port = 80\n"
    )
    buildout.run(text).check()
    source = buildout.path("p.py").read_text()
    tree = ast.parse(source)  # the file is Python, whatever the values held
    (config,) = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == "extra_config_dict"
    ]
    values = ast.literal_eval(config)
    assert values["port"] == "80" and "import os" in values["value"]
    assert (
        "from slapos.promise.plugin.check_port_listening import RunPromise as RunPromise" in source
    )
    assert oct(buildout.path("p.py").stat().st_mode & 0o777) == "0o644"


def test_a_plugin_holding_a_generated_secret_is_readable_by_its_user_only(buildout):
    text = (
        "[buildout]\nparts = p\n[password]\nrecipe = slapkit:generate.password\n"
        f"[p]\nrecipe = slapkit:promise.plugin\noutput = {buildout.path('p.py')}\n"
        "module = slapos.promise.plugin.check_url_available\n"
        "config-url = http://admin:${password:passwd}@127.0.0.1:8080/\n"
    )
    buildout.run(text).check()
    assert oct(buildout.path("p.py").stat().st_mode & 0o777) == "0o600"
    # Asked for 0644 in so many words: still the user's only.
    buildout.run(text.replace("config-url", "mode = 0644\nconfig-url")).check()
    assert oct(buildout.path("p.py").stat().st_mode & 0o777) == "0o600"
    password = buildout.path("parts", "password").read_text()
    assert password in buildout.path("p.py").read_text()


@pytest.mark.parametrize(
    "options, expected",
    [
        ("module = a.b\nfile = x.py", "[p] module: give module or file, one of them"),
        ("", "[p] module: give module or file, one of them"),
        ("module = os; import sys", "[p] module: 'os; import sys' is not a Python module name"),
        ("module = a\nclass = X()", "[p] class: 'X()' is not a Python class name"),
        (
            "module = a\nconfig-path = /srv",
            "[p] config-path: 'path' is a setting slapgrid's launcher gives every promise",
        ),
        ("module = a\nconfig-partition-id = x", "[p] config-partition-id: 'partition-id' is a"),
    ],
)
def test_bad_options_name_the_option(buildout, options, expected):
    result = buildout.run(
        f"[buildout]\nparts = p\n[p]\nrecipe = slapkit:promise.plugin\noutput = {buildout.path('p.py')}\n{options}\n"
    )
    assert not result.ok and expected in result.output
    assert not buildout.path("p.py").exists()


def test_without_slapos_core_the_plugins_are_said_not_run(tmp_path, monkeypatch):
    (tmp_path / "etc" / "plugin").mkdir(parents=True)
    (tmp_path / "etc" / "plugin" / "a.py").write_text("")
    monkeypatch.setattr(promises.importlib.util, "find_spec", lambda name: None)
    results, note = promises.run_plugins(tmp_path)
    assert results == []
    assert note == (
        "1 promise plugin(s) in etc/plugin not run: slapgrid's promise launcher comes with "
        "slapos.core (pip install slapkit[master])"
    )


def test_a_launcher_that_fails_is_one_failing_line(tmp_path, monkeypatch):
    monkeypatch.setattr(promises, "_LAUNCH", "import sys; sys.exit('boom')")
    (tmp_path / "etc" / "plugin").mkdir(parents=True)
    (tmp_path / "etc" / "plugin" / "a.py").write_text("")
    assert promises._launch_plugins(tmp_path) == [
        promises.PromiseResult("etc/plugin", False, "the promise launcher failed: boom")
    ]


def eggs_profile(buildout, index, eggs):
    return (
        f"[buildout]\nparts = p\n{offline_options(index)}[p]\nrecipe = slapkit:promise.plugin\n"
        f"output = {buildout.path('p.py')}\nmodule = a.b\neggs = {eggs}\n"
    )


def test_eggs_put_their_paths_first_and_a_missing_one_is_an_error(buildout, empty_index):
    import jinja2

    buildout.run(eggs_profile(buildout, empty_index, "Jinja2")).check()
    source = buildout.path("p.py").read_text()
    location = os.path.dirname(os.path.dirname(jinja2.__file__))
    assert f"sys.path[0:0] = [{location!r}" in source
    result = buildout.run(eggs_profile(buildout, empty_index, "no-such-distribution-here"))
    assert not result.ok and "[p] eggs: cannot find them" in result.output
    assert "Reading http" not in result.output  # no index on the network was read


def test_a_missing_egg_is_looked_for_in_what_is_installed_only(buildout, empty_index):
    result = buildout.run(eggs_profile(buildout, empty_index, "no-such-distribution-here"))
    assert not result.ok and "[p] eggs: cannot find them" in result.output
    # zc.buildout's default index (an empty local directory here, PyPI in
    # production) was not read: the profile says offline = true.
    assert "Couldn't find index page" not in result.output, result.output
    assert "Scanning index of all packages" not in result.output, result.output


TEST_LESS_PLUGIN = PLUGIN.replace(
    "class RunPromise(GenericPromise):\n",
    "class RunPromise(GenericPromise):\n"
    "    def __init__(self, config):\n"
    "        super().__init__(config)\n"
    "        self.setTestLess()\n\n",
)


def test_a_test_less_plugin_is_not_run_at_deploy_and_status_checks_its_anomaly(tmp_path, partition):
    pytest.importorskip("slapos.grid.promise")
    plugin = tmp_path / "ready_promise.py"
    plugin.write_text(TEST_LESS_PLUGIN)
    profile = tmp_path / "instance.cfg"
    profile.write_text(PROFILE.format(plugin=plugin, theirs_part=""))
    # What an earlier run left is not this run's answer.
    result = partition / ".slapgrid" / "promise" / "result"
    result.mkdir(parents=True)
    (result / "check-ready.status.json").write_text(
        '{"result": {"failed": true, "message": "planted"}}'
    )
    deployed = slapkit("deploy", profile, "--partition", partition, "--promise-timeout", "0")
    assert "promises     0 kept, 0 failing, 1 not run (test-less)" in deployed.stdout
    assert (
        "not run   plugin/check-ready.py: test-less: slapgrid runs it only in its anomaly "
        "check, as slapkit status does"
    ) in deployed.stdout
    assert deployed.stdout.rstrip().splitlines()[-1].startswith("ok in ")
    assert "planted" not in deployed.stdout

    status = slapkit("status", partition, check=False)
    assert status.returncode == 1
    assert f"FAILING   plugin/check-ready.py: {partition / 'ready'} is missing" in status.stdout
    (partition / "ready").write_text("")
    status = slapkit("status", partition)
    assert "kept      plugin/check-ready.py" in status.stdout


def test_a_test_less_plugin_that_crashes_is_failing_and_planted_links_stop_the_launcher(
    tmp_path, partition
):
    """In its anomaly mode the launcher counts a crash as a problem only when
    the result before failed too: a crash is never kept. And the launcher
    writes where slapgrid's directories lead: a link planted there stops it."""
    pytest.importorskip("slapos.grid.promise")
    plugin = tmp_path / "ready_promise.py"
    plugin.write_text(
        TEST_LESS_PLUGIN.replace(
            "    def sense(self):\n", "    def sense(self):\n        os._exit(3)\n"
        )
    )
    profile = tmp_path / "instance.cfg"
    profile.write_text(PROFILE.format(plugin=plugin, theirs_part=""))
    slapkit("deploy", profile, "--partition", partition, "--promise-timeout", "0")
    status = slapkit("status", partition, check=False)
    assert status.returncode == 1
    assert "FAILING   plugin/check-ready.py: Error: No output returned by the promise" in (
        status.stdout
    )
    assert "promises     0 kept, 1 failing" in status.stdout

    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "check-ready.status.json").write_text("precious")
    result = partition / ".slapgrid" / "promise" / "result"
    for path in sorted(result.iterdir()):
        path.unlink()
    result.rmdir()
    result.symlink_to(victim)
    status = slapkit("status", partition, check=False)
    assert status.returncode == 1
    assert f"{result} is not a directory of the partition's (a link?): not run" in status.stdout
    assert (victim / "check-ready.status.json").read_text() == "precious"
