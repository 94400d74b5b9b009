"""The kinds of files a job stages (``type`` of upload/download requests)."""

__all__ = [
    "INPUT", "CONFIG", "TOOL", "WORKDIR", "OUTPUT", "OUTPUT_WORKDIR", "UNSTRUCTURED",
    "METADATA", "OUTPUT_METADATA", "JOBDIR", "OUTPUT_JOBDIR",
    "ALL_PATH_TYPES", "DEFAULT_PATH_TYPES", "OUTPUT_PATH_TYPES",
]

INPUT = "input"
CONFIG = "config"
TOOL = "tool"
WORKDIR = "workdir"
OUTPUT = "output"
OUTPUT_WORKDIR = "output_workdir"
UNSTRUCTURED = "unstructured"
METADATA = "metadata"
OUTPUT_METADATA = "output_metadata"
JOBDIR = "jobdir"
OUTPUT_JOBDIR = "output_jobdir"

#: Types that get ``default_file_action``; ``unstructured`` defaults to ``none``.
DEFAULT_PATH_TYPES = (INPUT, CONFIG, TOOL, WORKDIR, OUTPUT, OUTPUT_WORKDIR,
                      METADATA, OUTPUT_METADATA, JOBDIR, OUTPUT_JOBDIR)
ALL_PATH_TYPES = DEFAULT_PATH_TYPES + (UNSTRUCTURED,)
OUTPUT_PATH_TYPES = (OUTPUT, OUTPUT_WORKDIR, OUTPUT_METADATA, OUTPUT_JOBDIR)
