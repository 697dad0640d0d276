"""The corpus's stand-in for every binary of a software release.

Installed under each name a profile runs (``sbin/nginx``, ``bin/python3``…).
With ``CORPUS_RECORD`` set it appends what it was started with (arguments,
environment, working directory) to that file as one JSON line and exits 0:
that is how the corpus test compares the cookbook's wrappers with slapkit's,
by what the program receives. Without it, it stays up like a service until
it is stopped.
"""

import json
import os
import signal
import sys
import time

record = os.environ.get("CORPUS_RECORD")
if record:
    with open(record, "a", encoding="utf-8") as stream:
        stream.write(
            json.dumps({"argv": sys.argv, "env": dict(os.environ), "cwd": os.getcwd()}) + "\n"
        )
    sys.exit(0)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    time.sleep(3600)
