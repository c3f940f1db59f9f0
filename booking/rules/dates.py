"""Dates and times as residents read them, in the venue's zone: ``2027年3月8日 周一 19:00–20:30``
in Chinese, ``Mon 8 March 2027, 19:00–20:30`` in English. Pure functions."""

from datetime import date, datetime

ZH_WEEKDAYS = "一二三四五六日"
EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EN_WEEKDAYS_LONG = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def weekday_name(weekday: int, lang: str) -> str:
    return f"周{ZH_WEEKDAYS[weekday]}" if lang == "zh" else EN_WEEKDAYS[weekday]


def day(value: date, lang: str) -> str:
    if lang == "zh":
        return f"{value.year}年{value.month}月{value.day}日 周{ZH_WEEKDAYS[value.weekday()]}"
    return f"{EN_WEEKDAYS[value.weekday()]} {value.day} {EN_MONTHS[value.month - 1]} {value.year}"


def clock(value: datetime) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def moment(value: datetime, lang: str) -> str:
    """A local date and time: ``2027年3月8日 周一 19:00``."""
    return f"{day(value.date(), lang)}{' ' if lang == 'zh' else ', '}{clock(value)}"


def span(start: datetime, end: datetime, lang: str) -> str:
    """A local session: ``2027年3月8日 周一 19:00–20:30`` (the end's date when it is another day)."""
    if start.date() == end.date():
        return f"{moment(start, lang)}–{clock(end)}"
    return f"{moment(start, lang)} – {moment(end, lang)}"


def weekly(weekday: int, start: str, end: str, lang: str) -> str:
    """A weekly time: ``每周一 19:00–20:30`` / ``Mondays 19:00–20:30``."""
    if lang == "zh":
        return f"每周{ZH_WEEKDAYS[weekday]} {start}–{end}"
    return f"{EN_WEEKDAYS_LONG[weekday]} {start}–{end}"


def term(start: date, end: date, lang: str) -> str:
    if lang == "zh":
        return f"{start.year}年{start.month}月{start.day}日至{end.year}年{end.month}月{end.day}日"
    return f"{start.day} {EN_MONTHS[start.month - 1]} {start.year} to {end.day} {EN_MONTHS[end.month - 1]} {end.year}"
