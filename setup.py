from setuptools import find_packages, setup

RECIPES = {
    "mkdirectory": "slapkit.recipes.mkdirectory:MkDirectory",
    "wrapper": "slapkit.recipes.wrapper:Wrapper",
    "generate.password": "slapkit.recipes.password:GeneratePassword",
    "jinja2": "slapkit.recipes.template:Jinja2",
    "parameters": "slapkit.recipes.parameters:Parameters",
    "publish": "slapkit.recipes.publish:Publish",
    "promise": "slapkit.recipes.promise:Promise",
}
HASHES = ["libpass>=1.9", "bcrypt>=4.0"]  # passwd-<scheme> outputs
SCHEMA = ["jsonschema>=4.18"]  # slapkit:parameters' schema option
RUNNER = ["zc.buildout>=3.0.1", "supervisor>=4.2"]  # slapkit deploy|status|stop

UNINSTALLERS = {
    "wrapper": "slapkit.recipes.wrapper:uninstall",
    "jinja2": "slapkit.recipes.template:uninstall",
    "promise": "slapkit.recipes.promise:uninstall",
}

setup(
    name="slapkit",
    version="0.1.0",
    description="Promise-based zc.buildout recipes for SlapOS instance profiles, "
    "and a local runner",
    long_description=open("README.rst", encoding="utf-8").read(),
    long_description_content_type="text/x-rst",
    license="MIT",
    package_dir={"": "src"},
    packages=find_packages("src"),
    include_package_data=True,
    python_requires=">=3.10",
    # Kept to what every recipe needs. zc.buildout records a recipe
    # distribution's whole dependency tree in each part's signature in
    # .installed.cfg, and resolves it for every part on every run: with all
    # the extras in here, a 900-part profile's first run took 2.75x and its
    # rerun 2x buildout's own time (benchmarks/RESULTS.md). zc.buildout
    # itself is the host that loads the recipes, so it is not repeated here.
    install_requires=["Jinja2>=3.0"],
    extras_require={
        "hashes": HASHES,
        "schema": SCHEMA,
        "runner": RUNNER,
        "all": HASHES + SCHEMA + RUNNER,
        "master": ["slapos.core>=1.20", "slapos.libnetworkcache"],
        "test": HASHES + SCHEMA + RUNNER + [
            "pytest>=7",
            "hypothesis>=6",
            # tests/test_template_compat.py renders the same profile with it.
            "slapos.recipe.template>=5",
            # The real-master tests run `slapos proxy`, which needs Python 3.12+.
            "slapos.core>=1.20; python_version >= '3.12'",
            "slapos.libnetworkcache; python_version >= '3.12'",
            # A password that slapos.cookbook stored is taken over (test_password.py).
            "slapos.cookbook; python_version >= '3.12'",
        ],
    },
    entry_points={
        "zc.buildout": [f"{name} = {target}" for name, target in RECIPES.items()],
        "zc.buildout.uninstall": [
            f"{name} = {target}" for name, target in UNINSTALLERS.items()
        ],
        "console_scripts": ["slapkit = slapkit.runner.cli:main"],
    },
    classifiers=[
        "Framework :: Buildout :: Recipe",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
    ],
)
