"""Migrating SlapOS instance profiles from slapos.cookbook to slapkit."""
