class Noop:
    """Reads nothing, writes nothing: what buildout costs by itself."""

    def __init__(self, buildout, name, options):
        pass

    def install(self):
        return []

    def update(self):
        return None


class Switch:
    """Runs ``profile`` as a sub-buildout in the same directory and nothing
    else: what buildout costs for a switch-softwaretype part by itself."""

    def __init__(self, buildout, name, options):
        self.buildout, self.name, self.profile = buildout, name, options["profile"]

    def install(self):
        import zc.buildout.buildout

        main = self.buildout
        settings = [("buildout", "installed", f".installed-{self.name}.cfg")]
        for option in ("offline", "directory", "eggs-directory", "develop-eggs-directory"):
            settings.append(("buildout", option, main["buildout"][option]))
        if main["buildout"].get("eggs-directory-version") is not None:
            settings.append(("buildout", "eggs-directory-version", ""))

        class Sub(zc.buildout.buildout.Buildout):
            def __init__(self, config, settings):
                self._logger = main._logger
                self._log_level = main._log_level
                super().__init__(config, settings)

            def _setup_logging(self):
                return None

        Sub(self.profile, settings).install([])
        return []

    update = install
