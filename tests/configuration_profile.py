"""The head of the profiles that read the partition as a master describes
it (tests/test_runner_master.py with slapkit deploy, tests/test_slapgrid.py
with slapgrid): slapconfiguration.jsonschema, and a config file of every
value it gives. A template for str.format (``software_json``)."""

CONFIGURATION_SECTIONS = """
[slap-configuration]
<= slap-connection
recipe = slapkit:slapconfiguration.jsonschema
jsonschema = {software_json}
set-default = all
unstringify = all

[config]
recipe = slapkit:jinja2
output = ${{buildout:directory}}/config.json
inline = {{{{ dict(values, ipv4=values.ipv4 | sort, ipv6=values.ipv6 | sort) | tojson }}}}
context =
  section values slap-configuration
"""
