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
UNINSTALLERS = {
    "wrapper": "slapkit.recipes.wrapper:uninstall",
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
    install_requires=[
        "zc.buildout>=3.0.1",
        "setuptools",
        "Jinja2>=3.0",
        "jsonschema>=4.18",
        "libpass>=1.9",
        "bcrypt>=4.0",
        "supervisor>=4.2",
    ],
    extras_require={
        "master": ["slapos.core>=1.20", "slapos.libnetworkcache"],
        "test": [
            "pytest>=7",
            "hypothesis>=6",
            # The real-master tests run `slapos proxy`, which needs Python 3.12+.
            "slapos.core>=1.20; python_version >= '3.12'",
            "slapos.libnetworkcache; python_version >= '3.12'",
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
