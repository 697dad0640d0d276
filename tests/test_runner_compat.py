"""slapkit deploy runs what SlapOS profiles use besides slapkit's recipes:
slapos.recipe.build, plone.recipe.command, collective.recipe.template and
slapos.toolbox's promise plugins, installed by ``slapkit[compat]``."""

import pytest

from slapkit.runner.supervisor import Supervisor
from test_runner import slapkit

for _name in ("slapos.recipe.build", "plone.recipe.command", "collective.recipe.template"):
    pytest.importorskip(_name, reason="installed by slapkit[compat]")


def _found_by_zc_buildout(name: str) -> bool:
    """Whether zc.buildout's pkg_resources finds the distribution. Old
    setuptools (67.8, what SlapOS pins) does not find one whose dist-info a
    recent pip named with underscores (collective_recipe_template-3.0.0)."""
    import pkg_resources

    return pkg_resources.working_set.find(pkg_resources.Requirement.parse(name)) is not None


if not _found_by_zc_buildout("collective.recipe.template"):
    pytest.skip(
        "this setuptools' pkg_resources does not find collective.recipe.template's "
        "dist-info (README: slapkit[compat] on zc.buildout 3)",
        allow_module_level=True,
    )

PROFILE = """
[buildout]
parts = directory command template build {plugin_part}

[directory]
recipe = slapkit:mkdirectory
etc = ${{buildout:directory}}/etc
plugin = ${{buildout:directory}}/etc/plugin

[command]
recipe = plone.recipe.command
command = echo ran >> ${{directory:etc}}/from-command
stop-on-error = true

[template]
recipe = collective.recipe.template
input = inline:
  port = ${{:port}}
output = ${{directory:etc}}/from-template
port = 8080

[build]
recipe = slapos.recipe.build
greeting = hello
install =
  import os
  os.makedirs(location)
  with open(os.path.join(location, 'built'), 'w') as f:
      f.write(options['greeting'])

[ready]
recipe = slapkit:promise.plugin
output = ${{directory:plugin}}/check-built.py
module = slapos.promise.plugin.check_file_state
config-filename = ${{build:location}}/built
config-state = not-empty
"""


@pytest.fixture
def partition(tmp_path):
    directory = tmp_path / "partition"
    yield directory
    Supervisor(directory).shutdown()


def test_recipes_and_plugins_of_other_distributions_deploy_and_converge(tmp_path, partition):
    toolbox = True
    try:
        import slapos.promise.plugin.check_file_state  # noqa: F401
    except ImportError:  # slapos.toolbox needs Python 3.12+
        toolbox = False
    profile = tmp_path / "instance.cfg"
    profile.write_text(PROFILE.format(plugin_part="ready" if toolbox else ""))
    first = slapkit("deploy", profile, "--partition", partition)
    assert (partition / "etc" / "from-command").read_text() == "ran\n"
    assert (partition / "etc" / "from-template").read_text() == "port = 8080"
    assert (partition / "parts" / "build" / "built").read_text() == "hello"
    if toolbox:
        assert "kept      plugin/check-built.py" in first.stdout

    # plone.recipe.command runs again only when its options change, as under slapgrid.
    again = slapkit("deploy", "--partition", partition)
    assert again.stdout.rstrip().splitlines()[-1].startswith("ok in ")
    assert (partition / "etc" / "from-command").read_text() == "ran\n"
