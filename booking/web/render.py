"""The template engine: Jinja2 through Litestar, gettext in the visitor's language, and the
filters that write dates the way residents read them."""

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig
from markupsafe import Markup

from booking.models import DEFAULT_TIMEZONE
from booking.rules import dates
from booking.schemas.common import local
from booking.web import i18n, words
from booking.web.visitor import CSRF_FIELD, Visitor

TEMPLATES = Path(__file__).parent / "templates"


@pass_context
def _gettext(context, message: str) -> str:
    return i18n.gettext_for(context["lang"])(message)


@pass_context
def _ngettext(context, singular: str, plural: str, n: int) -> str:
    return i18n.ngettext_for(context["lang"])(singular, plural, n)


def _in_language(format_):
    @pass_context
    def filter_(context, *args):
        return format_(*args, context["lang"])

    return filter_


def _code_word(words: dict[str, str]):
    @pass_context
    def filter_(context, code: str) -> str:
        return i18n.gettext_for(context["lang"])(words[code]) if code in words else code

    return filter_


@pass_context
def _local_moment(context, instant: datetime, zone: str = DEFAULT_TIMEZONE) -> str:
    return dates.moment(local(instant, zone), context["lang"])


@pass_context
def _csrf_field(context) -> Markup:
    token = context["v"].csrf
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(gettext=_gettext, ngettext=_ngettext, newstyle=True)
    env.filters.update(
        day=_in_language(dates.day),
        moment=_in_language(dates.moment),
        span=_in_language(dates.span),
        weekly=_in_language(dates.weekly),
        weekday=_in_language(dates.weekday_name),
        term=_in_language(dates.term),
        local_moment=_local_moment,
        feature=_code_word(words.FEATURES),
        venue_kind=_code_word(words.VENUE_KINDS),
        space_kind=_code_word(words.SPACE_KINDS),
    )
    env.globals["csrf_field"] = _csrf_field
    return env


TEMPLATE_CONFIG = TemplateConfig(engine=JinjaTemplateEngine.from_environment(environment()))


def page(visitor: Visitor, name: str, *, status: int = 200, **context: Any) -> Template:
    return Template(
        template_name=name,
        context={"v": visitor, "lang": visitor.lang, "html_lang": i18n.HTML_LANG[visitor.lang], **context},
        cookies=visitor.cookies,
        status_code=status,
        media_type="text/html; charset=utf-8",
    )
