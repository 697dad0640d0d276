from setuptools import setup

setup(
    name="slapkit-bench-floor-jinja2",
    version="1.0",
    description=(
        "The floor's do-nothing recipes in a distribution that depends on Jinja2, as "
        "slapkit does: what zc.buildout charges a recipe for one dependency"
    ),
    package_dir={"": "src"},
    packages=["slapkit_bench_floor_jinja2"],
    # Not slapkit-bench-floor, installed beside it: its tree would be one more
    # distribution for zc.buildout to resolve than slapkit's (itself, Jinja2,
    # MarkupSafe).
    install_requires=["Jinja2"],
    entry_points={
        "zc.buildout": [
            "default = slapkit_bench_floor_jinja2:Noop",
            "switch = slapkit_bench_floor_jinja2:Switch",
        ]
    },
)
