"""The audio library: any bulletin file in, a clean Opus item in the content store.

``import_file`` runs the whole pipeline (checks, two-pass loudness normalisation for
horn loudspeakers, optional chime, Opus encoding, storing); ``ContentStore`` keeps the
results by sha256; ``ProcessingSettings`` holds the targets. Refusals are
``ImportRefused`` subclasses whose ``message`` is in the operator's language.
"""

from .errors import (
    BadChime,
    ContentNotFound,
    CorruptFile,
    EmptyFile,
    ImportRefused,
    InvalidContentId,
    LibraryError,
    MissingFile,
    NoAudioTrack,
    NotAFile,
    NotAudio,
    PermissionDenied,
    ProcessingFailed,
    SilentAudio,
    StoreError,
    ToolMissing,
    TooLong,
    TruncatedFile,
)
from .importer import import_file
from .model import ImportResult, ProcessedAudio
from .settings import ProcessingSettings
from .store import ContentStore, StoredContent

__all__ = ["BadChime", "ContentNotFound", "ContentStore", "CorruptFile", "EmptyFile",
           "ImportRefused", "ImportResult", "InvalidContentId", "LibraryError", "MissingFile",
           "NoAudioTrack", "NotAFile", "NotAudio", "PermissionDenied", "ProcessedAudio",
           "ProcessingFailed", "ProcessingSettings", "SilentAudio", "StoreError",
           "StoredContent", "TooLong", "ToolMissing", "TruncatedFile", "import_file"]
