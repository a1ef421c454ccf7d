"""Every error istifta raises on purpose.

The hierarchy, one tree rooted in :class:`IstiftaError`::

    IstiftaError
    ├── DecodeError          bytes, hex or JSON from outside that are not what they claim
    │   ├── ManifestError    a manifest field that is missing, malformed or inconsistent
    │   └── CredentialError  a credential code that is not 26 Crockford base32 characters
    ├── SelectionError       a voter's choices that the question does not allow
    ├── InvalidBallot        a well-formed ballot that fails a check of PROTOCOL.md §5
    ├── AuditError           an encryption check (Benaloh) whose ballot does not hold its claim
    ├── CeremonyError        a trustee's commitments, proof of knowledge or share fail
    ├── DecryptionError      a partial decryption fails, too few trustees, or no count fits
    ├── ImportProblems       an electorate file with bad rows (each named by its line); nothing imported
    ├── GatewayError         an SMS gateway refused or failed a message (``temporary`` or not)
    ├── StoreMismatch        the store disagrees with what was frozen or signed (a fault of the server)
    ├── ExposedSecret        a key file or the database that group or others may read or write
    └── LifecycleError       a step asked of a referendum that cannot take it now
        ├── UnknownElection  no referendum has that slug
        └── WrongState       the step does not fit the referendum's state (e.g. closed)

Messages say what was wrong and, where it helps, what to do; they never
contain a secret (a credential code, a share, a private key).
"""

from __future__ import annotations

__all__ = [
    "AuditError",
    "CeremonyError",
    "CheckFailed",
    "CredentialError",
    "DecodeError",
    "DecryptionError",
    "ExposedSecret",
    "GatewayError",
    "ImportProblems",
    "InternalError",
    "InvalidBallot",
    "IstiftaError",
    "LifecycleError",
    "ManifestError",
    "NotFound",
    "SelectionError",
    "SettingError",
    "StoreMismatch",
    "UnknownElection",
    "UsageError",
    "WrongState",
]


class IstiftaError(Exception):
    """The root of every error istifta raises on purpose."""


class DecodeError(IstiftaError, ValueError):
    """Input from outside is not a valid encoding of what it should be."""


class ManifestError(DecodeError):
    """A manifest field is missing, malformed or inconsistent.

    ``field`` is the JSON path of the offending field, e.g. ``questions[0].max``.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"manifest field {field}: {reason}")


class CredentialError(DecodeError):
    """A credential code is not 26 valid Crockford base32 characters."""


class SelectionError(IstiftaError):
    """The choices asked for do not fit the question (too many, too few, no such option)."""


class InvalidBallot(IstiftaError):
    """A ballot fails one of the checks of PROTOCOL.md §5.

    ``check`` names the check (``election_hash``, ``credential``, ``shape``,
    ``choice_proof``, ``sum_proof``, ``signature``, ``ciphertext``); ``question``
    and ``option`` locate it (0-based) where it applies.
    """

    def __init__(
        self,
        check: str,
        reason: str,
        *,
        question: int | None = None,
        option: int | None = None,
    ) -> None:
        self.check = check
        self.question = question
        self.option = option
        where = ""
        if question is not None:
            where = f" in question {question}"
            if option is not None:
                where += f", option {option}"
        super().__init__(f"ballot rejected: {check}{where}: {reason}")


class AuditError(IstiftaError):
    """A cast-as-intended check fails: ``check`` is ``mismatch`` (a revealed
    randomness does not open its ciphertext to 0 or 1) or ``claim`` (the ballot
    holds other choices than the device said); ``question`` and ``option`` locate it."""

    def __init__(
        self, check: str, reason: str, *, question: int | None = None, option: int | None = None
    ) -> None:
        self.check = check
        self.question = question
        self.option = option
        super().__init__(f"encryption check failed: {reason}")


class CeremonyError(IstiftaError):
    """A trustee's published key material or private share does not check."""


class DecryptionError(IstiftaError):
    """A partial decryption does not check, or the shares cannot give a count."""


class ImportProblems(IstiftaError):
    """An electorate file has bad rows; nothing was imported.

    ``problems`` lists ``(line, reason)`` for the first rows found bad (at most
    ``limit`` of them) and ``count`` how many rows were bad in all."""

    def __init__(self, problems: list[tuple[int, str]], count: int) -> None:
        self.problems = problems
        self.count = count
        first = "; ".join(f"line {line:,}: {reason}" for line, reason in problems[:3])
        super().__init__(f"{count:,} bad rows, nothing imported: {first}")


class GatewayError(IstiftaError):
    """An SMS gateway did not take a message. ``temporary``: a retry may cure it."""

    def __init__(self, reason: str, temporary: bool) -> None:
        self.reason = reason
        self.temporary = temporary
        super().__init__(f"{'temporary' if temporary else 'permanent'} gateway error: {reason}")


class SettingError(IstiftaError, ValueError):
    """A setting's value (from the environment or an option) is not one it can take;
    the message names the variable."""


class UsageError(IstiftaError, ValueError):
    """A function was called outside its contract (an argument out of range, a
    step before its start): a bug in the caller, not bad input from outside."""


class NotFound(IstiftaError, LookupError):
    """What was asked for is not there (a tree head of that size on this board)."""


class InternalError(IstiftaError, RuntimeError):
    """A library or a worker process broke its contract (libsodium refused a valid
    point, a worker died); what was under way was not done."""


class CheckFailed(IstiftaError):
    """One of the verifier's checks failed: the verifier turns it into its report's
    message (``entry``: the board index at fault, if one is)."""

    def __init__(self, message: str, entry: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.entry = entry


class StoreMismatch(IstiftaError):
    """The store holds something other than what was frozen or signed (the electorate
    behind ``parameters.electorate.root``, say): the server must not serve it."""


class ExposedSecret(IstiftaError):
    """A key file or the SQLite store may be read or written by group or others;
    the message names each file and the ``chmod`` that makes it private."""


class LifecycleError(IstiftaError):
    """A step asked of a referendum that cannot take it now; nothing was changed."""


class UnknownElection(LifecycleError):
    """No referendum has this slug."""


class WrongState(LifecycleError):
    """The step does not fit the referendum's state: ``state`` is where it is."""

    def __init__(self, message: str, state: str) -> None:
        self.state = state
        super().__init__(message)
