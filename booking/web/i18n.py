"""Languages of the pages: zh-CN first, English second. Every word a page shows comes from a
gettext catalog (``locale/<lang>/LC_MESSAGES/messages.po``, message ids in English), read once at
import: the catalogs are compiled in memory, so the source files are all there is."""

import gettext
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = {"zh": "zh_CN", "en": "en"}  # the switch's value → catalog
DEFAULT_LANGUAGE = "zh"
HTML_LANG = {"zh": "zh-CN", "en": "en"}


def _translations(catalog: str) -> gettext.GNUTranslations:
    with (LOCALE_DIR / catalog / "LC_MESSAGES" / "messages.po").open("rb") as source:
        compiled = BytesIO()
        write_mo(compiled, read_po(source, locale=catalog))
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


TRANSLATIONS = {lang: _translations(catalog) for lang, catalog in LANGUAGES.items()}


def from_accept_language(header: str | None) -> str:
    """The first language of ``Accept-Language`` (by q) that the pages speak; Chinese otherwise."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        ranked.append((-weight, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        primary = tag.split("-")[0]
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The switch's choice when made, else the browser's preference."""
    return cookie if cookie in LANGUAGES else from_accept_language(accept_language)


def gettext_for(lang: str):
    return TRANSLATIONS[lang].gettext


def ngettext_for(lang: str):
    return TRANSLATIONS[lang].ngettext
