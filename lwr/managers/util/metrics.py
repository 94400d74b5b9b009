"""Job metrics (``job_metrics_conf.xml``): the ``core`` plugin's instrumentation files in ``working/``."""
import os
import xml.etree.ElementTree as ET

__all__ = ["JobMetrics"]


class JobMetrics:
    """Adds shell commands before and after each job that record slots and start/end epochs."""

    def __init__(self, plugins=()):
        self.plugins = tuple(plugins)

    @classmethod
    def from_file(cls, path):
        """``None`` when the file is absent (no instrumentation), as in 0.2.0."""
        if not path or not os.path.exists(path):
            return None
        root = ET.parse(path).getroot()
        return cls(child.tag for child in root)

    def commands(self, working_directory):
        if "core" not in self.plugins:
            return "", ""
        prefix = os.path.join(working_directory, "__instrument_core_")
        pre = ('echo "$GALAXY_SLOTS" > \'%sgalaxy_slots\'\ndate +"%%s" > \'%sepoch_start\''
               % (prefix, prefix))
        post = 'date +"%%s" > \'%sepoch_end\'' % prefix
        return pre, post
