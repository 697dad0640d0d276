class Noop:
    """Reads nothing, writes nothing: what buildout costs by itself."""

    def __init__(self, buildout, name, options):
        pass

    def install(self):
        return []

    def update(self):
        return None
