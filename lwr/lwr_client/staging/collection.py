"""Which extra job files come back: dynamic-output patterns, collector descriptions, galaxy.json.

Used on both sides: by the client when it downloads (transfer/copy) and by the server when it
pushes outputs (remote actions).  Names are relative to the directory they were found in, with
the server's separator turned into ``/``.
"""
import json
import logging
import posixpath
import re

__all__ = ["OutputMatcher", "DEFAULT_DYNAMIC_COLLECTION_PATTERN", "LEGACY_DYNAMIC_COLLECTION_PATTERN",
           "dynamic_file_source_references"]

log = logging.getLogger(__name__)

#: What current Pulsar clients collect by default (applied with ``re.match``: a prefix match).
DEFAULT_DYNAMIC_COLLECTION_PATTERN = [
    r"primary_.*|galaxy.json|metadata_.*|dataset_\d+\.dat|__instrument_.*|dataset_\d+_files.+"
    r"|outputs_populated/.*|tool_stdout|tool_stderr"]
#: What LWR 0.2.0 collected from the working directory when a client sends no patterns
#: (whole-name match).
LEGACY_DYNAMIC_COLLECTION_PATTERN = re.compile(
    r"(primary_.*|galaxy.json|metadata_.*|dataset_\d+\.dat|__instrument_.*|dataset_\d+_files.+)\Z")

#: Galaxy's named discovery patterns, in case a description still carries a name.
_NAMED_PATTERNS = {
    "__default__": r"primary_DATASET_ID_(?P<designation>[^_]+)_(?P<visible>[^_]+)_(?P<ext>[^_]+)"
                   r"(_(?P<dbkey>[^_]+))?",
    "__name__": r"(?P<name>.*)",
    "__designation__": r"(?P<designation>.*)",
    "__name_and_ext__": r"(?P<name>.*)\.(?P<ext>[^\.]+)?",
    "__designation_and_ext__": r"(?P<designation>.*)\.(?P<ext>[^\._]+)?",
}


class _CollectorDescription:
    """A Galaxy ``discover_datasets`` pattern, optionally restricted to a sub directory."""

    def __init__(self, description: dict):
        pattern = description.get("pattern") or "__default__"
        self.pattern = re.compile(_NAMED_PATTERNS.get(pattern, pattern))
        directory = description.get("directory") or ""
        self.directory = posixpath.normpath(directory.replace("\\", "/")).strip("/") if directory else ""

    def matches(self, name: str) -> bool:
        if self.directory and self.directory != ".":
            prefix = self.directory + "/"
            if not name.startswith(prefix):
                return False
            # Matched relative to the directory (Galaxy's match_relative_path changes nothing
            # here: a name directly in the directory is its own relative path).
            name = name[len(prefix):]
        return self.pattern.match(name) is not None


class OutputMatcher:
    """Decides whether a file name is wanted: ``dynamic_outputs`` regexes (``None``: LWR 0.2.0's
    whole-name pattern), then ``dataset_collector_descriptions`` (dicts as Galaxy sends them)."""

    def __init__(self, dynamic_outputs=None, dataset_collector_descriptions=None):
        self.legacy = dynamic_outputs is None
        self.patterns = [re.compile(pattern) for pattern in dynamic_outputs or []]
        self.descriptions = []
        for description in dataset_collector_descriptions or []:
            if (description.get("discover_via") or "pattern") != "pattern":
                continue  # galaxy.json collections come through dynamic_file_sources
            try:
                self.descriptions.append(_CollectorDescription(description))
            except (re.error, TypeError, AttributeError) as exc:
                log.warning("ignoring dataset collector description %r: %s", description, exc)

    def matches(self, name: str) -> bool:
        name = name.replace("\\", "/")
        if any(description.matches(name) for description in self.descriptions):
            return True
        if self.legacy:
            return LEGACY_DYNAMIC_COLLECTION_PATTERN.match(name) is not None
        return any(pattern.match(name) for pattern in self.patterns)


def dynamic_file_source_references(realized_sources) -> dict:
    """``{"filename": [...], "extra_files": [...]}`` named anywhere in the realized galaxy.json
    files of a final status (``type`` galaxy: one JSON document; legacy_galaxy: one per line)."""
    references = {"filename": [], "extra_files": []}

    def record(value):
        if isinstance(value, list):
            for item in value:
                record(item)
        elif isinstance(value, dict):
            for key, item in value.items():
                if key in references and isinstance(item, str):
                    references[key].append(item)
                record(item)

    for source in realized_sources or []:
        contents = source.get("contents") or ""
        documents = contents.splitlines() if source.get("type") == "legacy_galaxy" else [contents]
        for document in documents:
            if not document.strip():
                continue
            try:
                record(json.loads(document))
            except ValueError as exc:
                log.warning("cannot parse %s: %s", source.get("path"), exc)
    return references
