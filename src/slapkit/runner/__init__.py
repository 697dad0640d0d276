"""The local runner: deploy an instance profile on one machine as slapgrid does."""
