"""Iraq's governorates, and reading a region as people write it.

A registrar's file names a voter's governorate in English, Arabic or Sorani,
with or without the article, in one of several transliterations ("Basrah",
"Al-Basra", "البصرة", "بەسرە"). :func:`canonical_region` reads all of these
as the one canonical English name that the store and the record carry
("Basra"), so that turnout by region adds up. ``docs/electorate.md`` lists
the names accepted.

Text is compared after :func:`fold`: case, spaces, hyphens, apostrophes,
dots, the tatweel and the zero-width non-joiner ignored, and the Arabic and
Persian (Sorani) forms of the same letter read alike (ي ى ی, ك ک, ة ه ە ھ,
أ إ آ ا), so that a name typed on an Arabic keyboard matches its Sorani
spelling. The same fold serves for column headers and language names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from istifta.errors import UsageError

__all__ = ["IRAQ", "RegionList", "canonical_region", "fold", "local_name"]

_IGNORED = re.compile(r"[\s\-_'’‘`.ـ\u200c\u200d\u200e\u200f]+")
_LETTERS = str.maketrans(
    {"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "ە": "ه", "ھ": "ه", "أ": "ا", "إ": "ا", "آ": "ا"}
)


def fold(text: str) -> str:
    """``text`` as names are compared: see the module's docstring."""
    return _IGNORED.sub("", text.casefold()).translate(_LETTERS)


# Canonical English name: other spellings (English, Arabic, Sorani). The article
# ("Al-", "ال") is added or dropped by the table's builder, so each name is given once.
GOVERNORATES: dict[str, tuple[str, ...]] = {
    "Baghdad": ("Bagdad", "بغداد", "بەغدا", "بەغداد"),
    "Basra": ("Basrah", "Busra", "البصرة", "بەسرە", "بەصرە"),
    "Nineveh": ("Ninawa", "Ninewa", "Ninawah", "Ninive", "نينوى", "نەینەوا", "نینەوا"),
    "Erbil": ("Arbil", "Irbil", "Hewler", "Hawler", "Hewlêr", "أربيل", "هەولێر"),
    "Sulaymaniyah": (
        "Sulaymaniya",
        "Sulaimaniya",
        "Sulaimaniyah",
        "Suleimaniyah",
        "Suleymaniyah",
        "Slemani",
        "Slêmanî",
        "Sulaimani",
        "السليمانية",
        "سلێمانی",
    ),
    "Duhok": ("Dohuk", "Dahuk", "Dihok", "Dahok", "دهوك", "دهۆک", "دهۆك"),
    "Kirkuk": ("Karkuk", "Kerkuk", "Tamim", "Ta'mim", "كركوك", "التأميم", "کەرکووک", "کەرکوک"),
    "Diyala": ("Diala", "Dyala", "ديالى", "ديالا", "دیالە"),
    "Anbar": ("الأنبار", "ئەنبار"),
    "Babil": ("Babylon", "Babel", "بابل"),
    "Karbala": ("Kerbala", "Karbalaa", "Karbala'", "كربلاء", "كربلا", "کەربەلا"),
    "Najaf": ("An-Najaf", "النجف", "نەجەف"),
    "Wasit": ("Wassit", "Wasset", "واسط", "واست", "واسیت"),
    "Saladin": (
        "Salah ad-Din",
        "Salah al-Din",
        "Salah El-Din",
        "Salahuddin",
        "Salahaddin",
        "Salah Aldeen",
        "Salaheddine",
        "صلاح الدين",
        "سەلاحەدین",
        "سەلاحەددین",
    ),
    "Dhi Qar": ("Thi Qar", "Dhiqar", "Zi Qar", "Thiqar", "ذي قار", "ذيقار", "زیقار", "زی قار"),
    "Maysan": ("Missan", "Maisan", "Misan", "ميسان", "مەیسان"),
    "Muthanna": ("Muthana", "Mothanna", "المثنى", "موسەننا", "موسەنا"),
    "Al-Qadisiyyah": (
        "Qadisiyyah",
        "Qadisiyah",
        "Qadisiya",
        "Qadissiya",
        "Qadisiyya",
        "Diwaniyah",
        "القادسية",
        "الديوانية",
        "قادسیە",
        "قادسیه",
    ),
}
"""Iraq's 18 governorates (the Kurdistan Region's four included)."""

LOCAL_NAMES: dict[str, dict[str, str]] = {
    "ar": {
        "Baghdad": "بغداد",
        "Basra": "البصرة",
        "Nineveh": "نينوى",
        "Erbil": "أربيل",
        "Sulaymaniyah": "السليمانية",
        "Duhok": "دهوك",
        "Kirkuk": "كركوك",
        "Diyala": "ديالى",
        "Anbar": "الأنبار",
        "Babil": "بابل",
        "Karbala": "كربلاء",
        "Najaf": "النجف",
        "Wasit": "واسط",
        "Saladin": "صلاح الدين",
        "Dhi Qar": "ذي قار",
        "Maysan": "ميسان",
        "Muthanna": "المثنى",
        "Al-Qadisiyyah": "القادسية",
    },
    "ckb": {
        "Baghdad": "بەغدا",
        "Basra": "بەسرە",
        "Nineveh": "نەینەوا",
        "Erbil": "هەولێر",
        "Sulaymaniyah": "سلێمانی",
        "Duhok": "دهۆک",
        "Kirkuk": "کەرکووک",
        "Diyala": "دیالە",
        "Anbar": "ئەنبار",
        "Babil": "بابل",
        "Karbala": "کەربەلا",
        "Najaf": "نەجەف",
        "Wasit": "واسیت",
        "Saladin": "سەلاحەدین",
        "Dhi Qar": "زیقار",
        "Maysan": "مەیسان",
        "Muthanna": "موسەننا",
        "Al-Qadisiyyah": "قادسیە",
    },
}
"""Each governorate as a page in Arabic or Sorani writes it (the store and the record keep the
canonical English name: these are for display only)."""


def local_name(region: str, language: str) -> str:
    """``region`` as a page in ``language`` shows it: a governorate in that language's script,
    any other region as the organiser wrote it."""
    return LOCAL_NAMES.get(language, {}).get(region, region)


# Words around a name that say "governorate of": "Basra Governorate", "محافظة البصرة", "پارێزگای هەولێر".
_AFFIXES = tuple(fold(w) for w in ("governorate", "province", "muhafazat", "محافظة", "پارێزگای", "پارێزگا"))


@dataclass(frozen=True)
class RegionList:
    """A closed list of regions: their canonical names and every spelling read as one of them."""

    description: str
    names: tuple[str, ...]
    aliases: Mapping[str, tuple[str, ...]] = field(repr=False)
    _lookup: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lookup: dict[str, str] = {}
        for name in self.names:
            for spelling in (name, *self.aliases.get(name, ())):
                for variant in _with_and_without_article(fold(spelling)):
                    if lookup.setdefault(variant, name) != name:
                        raise UsageError(f"{spelling!r} would name both {lookup[variant]} and {name}")
        object.__setattr__(self, "_lookup", lookup)

    def canonical(self, text: str) -> str | None:
        """The canonical name ``text`` spells, or ``None`` when it is none of them."""
        key = fold(text)
        found = self._lookup.get(key)
        if found is not None or not key:
            return found
        for affix in _AFFIXES:
            bare = key.removeprefix(affix) if key.startswith(affix) else key.removesuffix(affix)
            if bare != key and bare in self._lookup:
                return self._lookup[bare]
        return None


def _with_and_without_article(key: str) -> tuple[str, ...]:
    for article in ("al", "ال"):
        if key.startswith(article) and len(key) > len(article) + 2:
            return key, key[len(article) :]
    article = "ال" if key[:1] >= "\u0600" else "al"
    return key, article + key


IRAQ = RegionList("Iraq's 18 governorates", tuple(GOVERNORATES), GOVERNORATES)
"""The default region list of an import."""


def canonical_region(text: str) -> str | None:
    """The canonical English name of the Iraqi governorate ``text`` names, or ``None``."""
    return IRAQ.canonical(text)
