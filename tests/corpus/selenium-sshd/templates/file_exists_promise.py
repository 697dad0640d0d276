# A promise plugin for slapgrid's launcher: the file it is given exists.
import os

from slapos.grid.promise import interface
from slapos.grid.promise.generic import GenericPromise
from zope.interface import implementer


@implementer(interface.IPromise)
class RunPromise(GenericPromise):
    def sense(self):
        path = self.getConfig("path-to-check")
        if os.path.exists(path):
            self.logger.info(f"{path} exists")
        else:
            self.logger.error(f"{path} does not exist")

    def test(self):
        return self._test(result_count=1, failure_amount=1)

    def anomaly(self):
        return self._anomaly(result_count=1, failure_amount=1)
