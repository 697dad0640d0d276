"""slapkit:cron (dcron's service script) through real buildout, beside the cookbook's."""

import subprocess
import sys

import pytest

from buildout_harness import BuildoutDir, snapshot
from test_error_paths import error_in

OPTIONS = """
binary = ${{buildout:directory}}/etc/service/crond
dcrond-binary = {crond}
cron-entries = ${{buildout:directory}}/etc/cron.d
crontabs = ${{buildout:directory}}/etc/crontabs
cronstamps = ${{buildout:directory}}/etc/cronstamps
catcher = ${{buildout:directory}}/bin/catch it
log-file = ${{buildout:directory}}/var/log/crond.log
"""


def profile(recipe: str, crond) -> str:
    return "[buildout]\nparts = cron\n[cron]\nrecipe = " + recipe + OPTIONS.format(crond=crond)


def stand_in(tmp_path):
    """A crond that writes the arguments it was given, one a line."""
    crond = tmp_path / "crond"
    crond.write_text(
        f"#!{sys.executable}\nimport sys\n"
        f"open({str(tmp_path / 'args')!r}, 'w').write('\\n'.join(sys.argv[1:]))\n"
    )
    crond.chmod(0o755)
    return crond


def ran(directory, tmp_path) -> list[str]:
    subprocess.run([str(directory / "etc" / "service" / "crond")], check=True, timeout=30)
    return (tmp_path / "args").read_text().replace(str(directory), "DIR").splitlines()


def test_the_service_runs_dcron_as_the_cookbooks_does(buildout, tmp_path):
    crond = stand_in(tmp_path)
    buildout.path("etc", "service").mkdir(parents=True)
    buildout.run(profile("slapkit:cron", crond)).check()
    assert ran(buildout.directory, tmp_path) == [
        "-s", "DIR/etc/cron.d", "-c", "DIR/etc/crontabs", "-t", "DIR/etc/cronstamps",
        "-f", "-l", "5", "-M", "DIR/bin/catch it", "-L", "DIR/var/log/crond.log",
    ]  # fmt: skip
    before = snapshot(buildout.directory)
    buildout.run().check()
    assert snapshot(buildout.directory) == before

    pytest.importorskip("slapos.recipe.dcron")
    theirs = BuildoutDir(tmp_path / "cookbook")
    theirs.path("etc", "service").mkdir(parents=True)
    theirs.run(profile("slapos.cookbook:cron", crond)).check()
    assert ran(theirs.directory, tmp_path) == ran(buildout.directory, tmp_path)


@pytest.mark.parametrize("missing", ["binary", "dcrond-binary", "catcher", "log-file"])
def test_every_option_is_required(buildout, tmp_path, missing):
    text = profile("slapkit:cron", stand_in(tmp_path))
    text = "\n".join(line for line in text.splitlines() if not line.startswith(missing + " "))
    error_in(buildout.run(text), f"[cron] {missing}: is required and was not given")
    assert not buildout.path("etc").exists()
