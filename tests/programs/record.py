"""A stand-in for a software release's binary.

Writes {"pid", "argv", "env"} as JSON to $RECORD_TO, then, when $RECORD_SLEEP
is set, waits for SIGTERM and writes "TERM <pid>" to $RECORD_TO.term.
"""

import json
import os
import signal
import sys
import time

record_to = os.environ["RECORD_TO"]
with open(record_to + ".tmp", "w") as stream:
    json.dump({"pid": os.getpid(), "argv": sys.argv[1:], "env": dict(os.environ)}, stream)
os.rename(record_to + ".tmp", record_to)

if os.environ.get("RECORD_SLEEP"):

    def on_term(signum, frame):
        with open(record_to + ".term", "w") as stream:
            stream.write(f"TERM {os.getpid()}")
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    deadline = time.monotonic() + float(os.environ["RECORD_SLEEP"])
    while time.monotonic() < deadline:
        time.sleep(0.05)
