"""The floor's recipes; only the distribution differs (it requires Jinja2)."""

from slapkit_bench_floor import Noop, Switch

__all__ = ["Noop", "Switch"]
