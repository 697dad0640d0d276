from setuptools import setup

setup(
    name="slapkit-bench-floor",
    version="1.0",
    description="A do-nothing buildout recipe: buildout's own cost, the benchmark's floor",
    package_dir={"": "src"},
    packages=["slapkit_bench_floor"],
    entry_points={
        "zc.buildout": [
            "default = slapkit_bench_floor:Noop",
            "switch = slapkit_bench_floor:Switch",
        ]
    },
)
