# Promise file for the corpus's ssh case, loaded by the plugin that
# promise.plugin writes. It fails unless "filename" names a regular file,
# and, when "expected-uid" is given, unless that user owns it.
from pathlib import Path

from slapos.grid.promise import interface
from slapos.grid.promise.generic import GenericPromise
from zope.interface import implementer


@implementer(interface.IPromise)
class RunPromise(GenericPromise):
    def sense(self):
        target = Path(self.getConfig("filename", ""))
        owner = self.getConfig("expected-uid")
        problem = None
        if not target.is_file():
            problem = f"no regular file at {target}"
        elif owner and target.stat().st_uid != int(owner):
            problem = f"{target} belongs to uid {target.stat().st_uid}, not {owner}"
        if problem:
            self.logger.error(problem)
        else:
            self.logger.info("%s is in place", target)
