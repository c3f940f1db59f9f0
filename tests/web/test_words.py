"""Every word of the pages comes from the catalogs: templates hold no Chinese text of their own,
the catalogs translate every message the templates and page code use, and dates read the way
residents write them."""

import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

from babel.messages.pofile import read_po

from booking.rules import dates
from booking.web import i18n

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "booking" / "web" / "templates"
HAN = re.compile(r"[\u3400-\u9fff]")
JINJA = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.S)
AUTONYM = re.compile(r'<[^>]* lang="[^"]+"[^>]*>[^<]*<')


def catalog(path: Path):
    with path.open("rb") as source:
        return read_po(source)


def test_templates_hold_no_chinese_outside_the_catalogs():
    """A language's own name in the switch (marked with its ``lang``) is the only exception."""
    for template in TEMPLATES.glob("*.html"):
        outside = AUTONYM.sub("", JINJA.sub("", template.read_text()))
        assert not HAN.findall(outside), template.name


def test_the_catalogs_translate_every_message(tmp_path):
    template = tmp_path / "messages.pot"
    subprocess.run(
        [
            Path(sys.executable).with_name("pybabel"),
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "N_",
            "-o",
            str(template),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    wanted = {message.id for message in catalog(template) if message.id}
    assert len(wanted) > 150
    chinese = catalog(i18n.LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po")
    translated = {message.id for message in chinese if message.id and message.string and all(message.string)}
    assert wanted - translated == set()
    english = catalog(i18n.LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po")
    assert wanted - {message.id for message in english} == set()


def test_placeholders_survive_translation():
    chinese = catalog(i18n.LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po")
    for message in chinese:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(re.findall(r"%\(\w+\)[sd]", ids[-1]))
        for string in strings:
            assert set(re.findall(r"%\(\w+\)[sd]", string)) == wanted, message.id


def test_the_language_comes_from_the_switch_then_accept_language():
    assert i18n.choose(None, None) == "zh"
    assert i18n.choose(None, "en-US,en;q=0.9") == "en"
    assert i18n.choose(None, "fr-FR, en;q=0.4, zh-CN;q=0.8") == "zh"
    assert i18n.choose(None, "de, fr;q=0.5") == "zh"
    assert i18n.choose(None, "en;q=garbage, zh-TW") == "zh"
    assert i18n.choose("en", "zh-CN") == "en"
    assert i18n.choose("xx", "en") == "en"


def test_dates_are_written_the_way_residents_read_them():
    start, end = datetime(2027, 3, 8, 19, 0), datetime(2027, 3, 8, 20, 30)
    assert dates.span(start, end, "zh") == "2027年3月8日 周一 19:00–20:30"
    assert dates.span(start, end, "en") == "Mon 8 March 2027, 19:00–20:30"
    assert dates.span(start, datetime(2027, 3, 9, 1, 0), "zh") == "2027年3月8日 周一 19:00 – 2027年3月9日 周二 01:00"
    assert dates.weekly(6, "09:00", "10:30", "zh") == "每周日 09:00–10:30"
    assert dates.weekly(6, "09:00", "10:30", "en") == "Sundays 09:00–10:30"
    assert dates.term(date(2027, 3, 1), date(2027, 6, 30), "zh") == "2027年3月1日至2027年6月30日"
    assert dates.day(date(2027, 1, 10), "en") == "Sun 10 January 2027"
