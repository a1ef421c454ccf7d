"""istifta: verifiable national consultations by phone."""

from istifta.errors import (
    CeremonyError,
    CredentialError,
    DecodeError,
    DecryptionError,
    InvalidBallot,
    IstiftaError,
    ManifestError,
    SelectionError,
)

__version__ = "0.1.0"
PROTOCOL_VERSION = "istifta/1"

__all__ = [
    "PROTOCOL_VERSION",
    "CeremonyError",
    "CredentialError",
    "DecodeError",
    "DecryptionError",
    "InvalidBallot",
    "IstiftaError",
    "ManifestError",
    "SelectionError",
    "__version__",
]
