"""SMPP 3.4 on the wire: the few PDUs an ESME transceiver needs, texts as
short messages, and delivery receipts.

Written from the SMPP 3.4 specification (issue 1.2): §3.2 the header
(command_length, command_id, command_status, sequence_number, all 32-bit big
endian), §4.1.5 bind_transceiver, §4.4 submit_sm, §4.6 deliver_sm, §4.11
enquire_link, §4.3 generic_nack, §5.1.3 the command_status values, §5.2.12
esm_class, §5.3.2 the TLVs, Appendix B the delivery receipt's text. Pure: no
clock, no socket, no logging; bytes in, values out, or :class:`DecodeError`.

Texts (3GPP TS 23.038 and 23.040): GSM 7-bit default alphabet, unpacked one
septet per octet as SMPP carries it (data_coding 0), when every character is
in the basic table or its extension table (an extension character takes two
septets, ESC and the character, never split across parts); otherwise UCS-2
(data_coding 8) as UTF-16-BE, never splitting a surrogate pair. Longer than
one SMS (160 septets, 70 UTF-16 units): concatenated with a user data header
(esm_class UDHI 0x40; IE 0x00, an 8-bit reference, 153 septets or 67 units a
part).
"""

from __future__ import annotations

import importlib
import re
import struct
from dataclasses import dataclass
from datetime import datetime

from istifta.errors import DecodeError, GatewayError, SettingError

importlib.import_module("gsm0338")  # registers the "gsm03.38" codec (the package ships no type hints)

__all__ = [
    "BIND_TRANSCEIVER",
    "DELIVER_SM",
    "ENQUIRE_LINK",
    "GENERIC_NACK",
    "HEADER",
    "RESP",
    "SUBMIT_SM",
    "TEMPORARY",
    "TLV_MESSAGE_PAYLOAD",
    "TLV_MESSAGE_STATE",
    "TLV_RECEIPTED_MESSAGE_ID",
    "UNBIND",
    "Part",
    "Receipt",
    "bind_transceiver_body",
    "c_string",
    "deliver_sm_receipt",
    "parse_receipt",
    "pdu",
    "status_name",
    "submit_sm_head",
    "text_parts",
]

HEADER = struct.Struct(">IIII")
"""command_length, command_id, command_status, sequence_number (§3.2)."""
RESP = 0x80000000
GENERIC_NACK = 0x80000000
BIND_TRANSCEIVER = 0x00000009
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
ENQUIRE_LINK = 0x00000015

INTERFACE_VERSION = 0x34
ESM_UDHI = 0x40
RECEIPT_TYPE = 0x04  # esm_class bits 2-5 of a deliver_sm: SMSC delivery receipt
TLV_MESSAGE_PAYLOAD = 0x0424
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427

_STATUS = {
    0x00: "ESME_ROK", 0x01: "ESME_RINVMSGLEN", 0x02: "ESME_RINVCMDLEN", 0x03: "ESME_RINVCMDID",
    0x04: "ESME_RINVBNDSTS", 0x05: "ESME_RALYBND", 0x06: "ESME_RINVPRTFLG", 0x07: "ESME_RINVREGDLVFLG",
    0x08: "ESME_RSYSERR", 0x0A: "ESME_RINVSRCADR", 0x0B: "ESME_RINVDSTADR", 0x0C: "ESME_RINVMSGID",
    0x0D: "ESME_RBINDFAIL", 0x0E: "ESME_RINVPASWD", 0x0F: "ESME_RINVSYSID", 0x11: "ESME_RCANCELFAIL",
    0x13: "ESME_RREPLACEFAIL", 0x14: "ESME_RMSGQFUL", 0x15: "ESME_RINVSERTYP", 0x33: "ESME_RINVNUMDESTS",
    0x34: "ESME_RINVDLNAME", 0x40: "ESME_RINVDESTFLAG", 0x42: "ESME_RINVSUBREP", 0x43: "ESME_RINVESMCLASS",
    0x44: "ESME_RCNTSUBDL", 0x45: "ESME_RSUBMITFAIL", 0x48: "ESME_RINVSRCTON", 0x49: "ESME_RINVSRCNPI",
    0x50: "ESME_RINVDSTTON", 0x51: "ESME_RINVDSTNPI", 0x53: "ESME_RINVSYSTYP", 0x54: "ESME_RINVREPFLAG",
    0x55: "ESME_RINVNUMMSGS", 0x58: "ESME_RTHROTTLED", 0x61: "ESME_RINVSCHED", 0x62: "ESME_RINVEXPIRY",
    0x63: "ESME_RINVDFTMSGID", 0x64: "ESME_RX_T_APPN", 0x65: "ESME_RX_P_APPN", 0x66: "ESME_RX_R_APPN",
    0x67: "ESME_RQUERYFAIL", 0xC0: "ESME_RINVOPTPARSTREAM", 0xC1: "ESME_ROPTPARNOTALLWD",
    0xC2: "ESME_RINVPARLEN", 0xC3: "ESME_RMISSINGOPTPARAM", 0xC4: "ESME_RINVOPTPARAMVAL",
    0xFE: "ESME_RDELIVERYFAILURE", 0xFF: "ESME_RUNKNOWNERR",
}  # fmt: skip

TEMPORARY = frozenset({0x04, 0x08, 0x14, 0x58, 0x64})
"""Statuses a later retry may cure: not bound yet, system error, queue full,
throttled, temporary application error."""

_STATES = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD", 7: "UNKNOWN"}
_STATES[8] = "REJECTD"  # message_state values (§5.2.28) as the receipt's stat words


def status_name(status: int) -> str:
    """``ESME_RINVDSTADR (0x0000000B)``: the name from §5.1.3 and the number."""
    return f"{_STATUS.get(status, 'unknown status')} (0x{status:08X})"


def pdu(command_id: int, sequence_number: int, body: bytes = b"", status: int = 0) -> bytes:
    return HEADER.pack(16 + len(body), command_id, status, sequence_number) + body


def _c(value: str, field: str, limit: int) -> bytes:
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        raise SettingError(f"SMPP {field} must be ASCII") from None
    if len(raw) >= limit or b"\0" in raw:
        raise SettingError(f"SMPP {field} must be shorter than {limit} characters")
    return raw + b"\0"


def bind_transceiver_body(system_id: str, password: str, system_type: str) -> bytes:
    """§4.1.5: system_id, password, system_type, interface_version 0x34, no address range."""
    return (
        _c(system_id, "system_id", 65)
        + _c(password, "password", 65)
        + _c(system_type, "system_type", 13)
        + bytes((INTERFACE_VERSION, 0, 0, 0))
    )


def submit_sm_head(sender: str) -> bytes:
    """submit_sm's fields before the destination: empty service_type and the source
    address: TON 5 (alphanumeric, at most 11 characters) when it has letters, TON 1
    NPI 1 (international) when it is a longer number or starts with "+", else TON 3
    (network specific: a short code)."""
    digits = sender.removeprefix("+")
    if not digits.isdigit():
        if len(sender) > 11:
            raise SettingError(f"an alphanumeric sender has at most 11 characters: {sender!r}")
        ton, npi = 5, 0
    elif sender.startswith("+") or len(digits) > 8:
        ton, npi = 1, 1
    else:
        ton, npi = 3, 0
    return b"\0" + bytes((ton, npi)) + _c(digits, "source_addr", 21) + b"\x01\x01"


@dataclass(frozen=True, slots=True)
class Part:
    """One submit_sm's share of a text: its esm_class, data_coding and short_message."""

    esm_class: int
    data_coding: int
    short_message: bytes


def _decodable(raw: bytes) -> str:
    try:
        return raw.decode("gsm03.38")
    except UnicodeDecodeError:
        return ""


_GSM_CHARACTERS = frozenset(
    "".join(_decodable(bytes(c)) for b in range(128) if b != 0x1B for c in ((b,), (0x1B, b)))
)
"""The basic table and its extension, from the codec (ESC alone would escape the next character)."""


def _gsm(text: str) -> bytes | None:
    """The septets of ``text``, or None when a character is not in GSM 03.38."""
    return text.encode("gsm03.38") if _GSM_CHARACTERS.issuperset(text) else None


def _cuts_gsm(septets: bytes) -> list[bytes]:
    chunks, start, i, n = [], 0, 0, len(septets)
    while i < n:
        step = 2 if septets[i] == 0x1B else 1
        if i + step - start > 153:
            chunks.append(septets[start:i])
            start = i
        i += step
    chunks.append(septets[start:])
    return chunks


def _cuts_ucs2(units: bytes) -> list[bytes]:
    chunks, start = [], 0
    while len(units) - start > 134:
        end = start + 134
        if 0xD8 <= units[end - 2] <= 0xDB:  # a high surrogate: keep the pair together
            end -= 2
        chunks.append(units[start:end])
        start = end
    chunks.append(units[start:])
    return chunks


def text_parts(text: str, reference: int) -> list[Part]:
    """The short messages that carry ``text``: one, or concatenated parts 1..n of n
    sharing ``reference`` (0-255; the same on a retry, so a phone joins them)."""
    septets = _gsm(text)
    if septets is not None:
        coding, payload, single = 0, septets, 160
    else:
        coding, payload, single = 8, text.encode("utf-16-be"), 140
    if len(payload) <= single:
        return [Part(0, coding, payload)]
    chunks = _cuts_gsm(payload) if coding == 0 else _cuts_ucs2(payload)
    if len(chunks) > 255:
        raise GatewayError(
            f"a text of {len(chunks)} parts is too long for one concatenated SMS", temporary=False
        )
    udh = bytes((5, 0x00, 3, reference & 0xFF, len(chunks)))
    return [Part(ESM_UDHI, coding, udh + bytes((k,)) + c) for k, c in enumerate(chunks, 1)]


def c_string(body: bytes, at: int) -> tuple[bytes, int]:
    """The C-octet string at ``at`` and the offset after its NUL."""
    end = body.find(b"\0", at)
    if end < 0:
        raise DecodeError("an SMPP C-octet string has no terminating NUL")
    return body[at:end], end + 1


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery receipt (Appendix B): the SMSC's id of the message and its final state."""

    message_id: str
    stat: str
    """``DELIVRD``, ``UNDELIV``, ``EXPIRED``, ``REJECTD``, ``DELETED``, ``UNKNOWN``, ``ACCEPTD``
    or ``ENROUTE`` (not final)."""
    err: str | None = None
    submit_date: datetime | None = None
    done_date: datetime | None = None

    @property
    def delivered(self) -> bool:
        return self.stat == "DELIVRD"

    @property
    def final(self) -> bool:
        return self.stat != "ENROUTE"


def deliver_sm_receipt(body: bytes) -> Receipt | None:
    """The receipt a deliver_sm carries (§4.6.1), or None when it is not a receipt
    (esm_class message type other than 0x04: a mobile-originated message)."""
    at = 0
    try:
        _, at = c_string(body, at)  # service_type
        _, at = c_string(body, at + 2)  # source_addr
        _, at = c_string(body, at + 2)  # destination_addr
        esm_class = body[at]
        _, at = c_string(body, at + 3)  # schedule_delivery_time
        _, at = c_string(body, at)  # validity_period
        length = body[at + 4]
    except IndexError:
        raise DecodeError("a deliver_sm ends before its short_message") from None
    if esm_class & 0x3C != RECEIPT_TYPE:
        return None
    short_message = body[at + 5 : at + 5 + length]
    tlvs: dict[int, bytes] = {}
    at += 5 + length
    while at + 4 <= len(body):
        tag, size = struct.unpack_from(">HH", body, at)
        tlvs[tag] = body[at + 4 : at + 4 + size]
        at += 4 + size
    return parse_receipt(short_message or tlvs.get(TLV_MESSAGE_PAYLOAD, b""), tlvs)


_FIELD = re.compile(rb"(?i)(?:^|\s)(id|sub|dlvrd|submit date|done date|stat|err):(\S*)")
_TEXT = re.compile(rb"(?i)(?:^|\s)text:")


def _date(raw: bytes | None) -> datetime | None:
    """YYMMDDhhmm (10 digits) or YYMMDDhhmmss (12); None when absent or not a date."""
    if raw is None or len(raw) not in (10, 12) or not raw.isdigit():
        return None
    f = [int(raw[i : i + 2]) for i in range(0, len(raw), 2)] + [0]
    try:
        return datetime(2000 + f[0], f[1], f[2], f[3], f[4], f[5])
    except ValueError:
        return None


def parse_receipt(short_message: bytes, tlvs: dict[int, bytes] | None = None) -> Receipt:
    """A receipt from its text (``id:… sub:… dlvrd:… submit date:… done date:…
    stat:… err:… text:…``, keys in any case) and the receipted_message_id and
    message_state TLVs, which win when present."""
    tlvs = tlvs or {}
    cut = _TEXT.search(short_message)
    head = short_message[: cut.start()] if cut else short_message
    fields = {m[1].lower(): m[2] for m in _FIELD.finditer(head)}
    message_id = tlvs[TLV_RECEIPTED_MESSAGE_ID].rstrip(b"\0") if TLV_RECEIPTED_MESSAGE_ID in tlvs else None
    message_id = message_id or fields.get(b"id")
    state = tlvs.get(TLV_MESSAGE_STATE, b"")
    stat = _STATES.get(state[0], "UNKNOWN").encode() if len(state) == 1 else fields.get(b"stat")
    if not message_id or not stat:
        raise DecodeError("a delivery receipt without a message id or a state")
    err = fields.get(b"err")
    return Receipt(
        message_id.decode("ascii", "replace"),
        stat.decode("ascii", "replace").upper(),
        err.decode("ascii", "replace") if err else None,
        _date(fields.get(b"submit date")),
        _date(fields.get(b"done date")),
    )
