"""Phone numbers as registrars write them, read as E.164 mobile numbers.

:func:`normalise_phone` accepts what a spreadsheet holds (``0770 123 4567``,
``+964 770-123-4567``, ``009647701234567``, ``٠٧٧٠١٢٣٤٥٦٧``) and returns
``+9647701234567``, or refuses with the reason: not a number, not a valid
number, not a mobile (the voting link goes by SMS). Google's libphonenumber
(the ``phonenumbers`` package) decides; Iraqi mobiles in their usual forms,
nearly every row of a real file, are answered by a fast path built from the
same metadata, which a test holds to exactly phonenumbers' answers.
"""

from __future__ import annotations

import re

import phonenumbers

from istifta.errors import DecodeError

__all__ = ["check_country", "normalise_phone"]

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
"""Arabic-Indic and extended Arabic-Indic (Persian, Sorani) digits as ASCII digits."""
_NOT_A_NUMBER = re.compile(r"[^\d\s()+\-./\u00a0\u200e\u200f]")
"""Letters and other signs: phonenumbers would read letters as on a keypad, a registrar never means that."""
_IRAQI_MOBILE = re.compile(r"(?:\+964|00964|964|0)?(7\d{9})")
_IQ = phonenumbers.PhoneMetadata.metadata_for_region("IQ")
assert _IQ is not None and _IQ.mobile is not None and _IQ.mobile.national_number_pattern is not None
_IQ_MOBILE = re.compile(_IQ.mobile.national_number_pattern)
"""Iraq's mobile numbers (national part) as phonenumbers' metadata gives them: ``7[3-9]\\d{8}``."""
_MOBILE = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
_COUNTRIES = {"IQ": "Iraq"}


def check_country(country: str) -> str:
    """``country`` if phonenumbers knows it as a region (``IQ``), else :class:`DecodeError`."""
    if country not in phonenumbers.SUPPORTED_REGIONS:
        raise DecodeError(f"{country!r} is not a country code phonenumbers knows, such as IQ")
    return country


def normalise_phone(text: str, country: str = "IQ") -> str:
    """The mobile number ``text`` writes, in E.164 (``+9647701234567``).

    Arabic-Indic and Persian digits are read as digits; a number without a
    ``+`` (or ``00``) is read as dialled in ``country`` (ISO 3166 code).
    Raises :class:`DecodeError` saying why ``text`` is not a mobile number."""
    raw = (text if text.isascii() else text.translate(_DIGITS)).strip()
    if not raw:
        raise DecodeError("no phone number")
    if country == "IQ":
        found = _IRAQI_MOBILE.fullmatch(raw.replace(" ", "").replace("-", ""))
        if found and _IQ_MOBILE.fullmatch(found[1]):
            return "+964" + found[1]
    shown = repr(raw if len(raw) <= 32 else raw[:32] + "…")
    if _NOT_A_NUMBER.search(raw):
        raise DecodeError(f"{shown} is not a phone number")
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        raise DecodeError(f"{shown} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        where = "" if raw.startswith(("+", "00")) else f" in {_COUNTRIES.get(country, country)}"
        raise DecodeError(f"{shown} is not a phone number{where}")
    kind = phonenumbers.number_type(number)
    if kind not in _MOBILE:
        what = "a landline" if kind == phonenumbers.PhoneNumberType.FIXED_LINE else "not a mobile number"
        raise DecodeError(f"{shown} is {what}: the voting link goes by SMS to a mobile")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
