"""The API reference at ``/schema``: the OpenAPI document rendered as plain HTML on the server.

No script and no outside asset (the default renderers load theirs from a CDN), so the page works
offline, in any browser, with a screen reader and at 320 px. The JSON document stays at
``/schema/openapi.json`` through Litestar's ``JsonRenderPlugin``.
"""

import json
import re
from collections.abc import Sequence
from html import escape
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin

METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
UNTAGGED = "other"

STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", sans-serif;
  font-size: 1.0625rem; line-height: 1.5; color: #1b1b1b; background: #fff; }
.page { max-width: 60rem; margin: 0 auto; padding: 1rem; }
h1, h2, h3, h4 { line-height: 1.35; overflow-wrap: anywhere; }
h1 { font-size: 2rem; margin: 0.5rem 0; }
h2 { font-size: 1.5rem; margin: 2.5rem 0 1rem; padding-top: 1rem; border-top: 2px solid #d0d0d0; }
h3 { font-size: 1.25rem; margin: 0 0 0.5rem; }
h4 { font-size: 1.0625rem; margin: 1rem 0 0.25rem; }
p, ul { margin: 0.5rem 0; }
ul { padding-left: 1.25rem; }
code { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace;
  font-size: 1rem; overflow-wrap: anywhere; }
a { color: #0a4ea8; text-underline-position: under; text-underline-offset: 0.1em; }
a:hover { color: #062f66; }
a:focus-visible, main:focus-visible { outline: 3px solid #b3261e; outline-offset: 2px; }
.skip { position: absolute; left: 0.5rem; top: -10rem; padding: 0.75rem 1rem; background: #fff; z-index: 1; }
.skip:focus { top: 0.5rem; }
.doc a { display: inline-block; padding: 0.5rem 0; }
nav a { display: block; padding: 0.375rem 0; }
nav ul ul { margin: 0 0 0.5rem; }
nav li { overflow-wrap: anywhere; }
.op { margin: 0 0 1.5rem; padding: 1rem; border: 1px solid #c4c4c4; border-radius: 0.5rem; }
.method { display: inline-block; min-width: 4.5rem; margin-right: 0.5rem; padding: 0 0.5rem; border-radius: 0.25rem;
  font-size: 1rem; font-weight: 700; text-align: center; color: #fff; background: #474747; }
.get { background: #0b6a34; }
.post { background: #0a4ea8; }
.put, .patch { background: #7a4b00; }
.delete { background: #a4161a; }
.meta { color: #474747; }
.deprecated { font-weight: 700; color: #a4161a; }
"""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def type_of(schema: Any) -> str:
    """A short readable type: a component's name, ``a | b`` for alternatives, ``array of x``."""
    if not isinstance(schema, dict):
        return "any"
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key, joiner in (("oneOf", " | "), ("anyOf", " | "), ("allOf", " & ")):
        if key in schema:
            return joiner.join(type_of(part) for part in schema[key])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(str(part) for part in kind)
    if kind == "array":
        return f"array of {type_of(schema.get('items'))}"
    if "enum" in schema:
        return "one of " + ", ".join(str(value) for value in schema["enum"])
    if kind and schema.get("format"):
        return f"{kind} ({schema['format']})"
    return str(kind or "any")


def path_code(path: str) -> str:
    """A path that may wrap after each slash (a narrow screen breaks it there rather than mid-word)."""
    return "<code>" + "/<wbr>".join(escape(part) for part in path.split("/")) + "</code>"


def paragraphs(text: str | None) -> str:
    return "".join(f"<p>{escape(part.strip())}</p>" for part in re.split(r"\n\s*\n", text or "") if part.strip())


def unique_id(base: str, used: set[str]) -> str:
    candidate, n = base, 1
    while candidate in used:
        n += 1
        candidate = f"{base}-{n}"
    used.add(candidate)
    return candidate


def render_parameters(parameters: Sequence[dict[str, Any]]) -> str:
    items = []
    for parameter in parameters:
        schema = parameter.get("schema") if isinstance(parameter.get("schema"), dict) else {}
        where = f"in {parameter.get('in', '?')}, {'required' if parameter.get('required') else 'optional'}"
        default = f", default <code>{escape(json.dumps(schema['default']))}</code>" if "default" in schema else ""
        note = parameter.get("description") or schema.get("description")
        items.append(
            f"<li><code>{escape(str(parameter.get('name', '')))}</code> <span class='meta'>({escape(where)})</span>: "
            f"<code>{escape(type_of(schema))}</code>{default}{' — ' + escape(str(note)) if note else ''}</li>"
        )
    return f"<h4>Parameters</h4><ul>{''.join(items)}</ul>" if items else ""


def render_body(body: dict[str, Any] | None) -> str:
    if not body:
        return ""
    kinds = [
        f"<code>{escape(type_of(media.get('schema')))}</code> <span class='meta'>({escape(media_type)})</span>"
        for media_type, media in (body.get("content") or {}).items()
    ]
    needed = "required" if body.get("required") else "optional"
    return f"<h4>Request body</h4><p>{' or '.join(kinds) or 'any'}, {needed}.</p>"


def render_responses(responses: dict[str, Any]) -> str:
    items = []
    for status, response in responses.items():
        schemas = sorted({type_of(media.get("schema")) for media in (response.get("content") or {}).values()})
        returns = f": <code>{escape(' or '.join(schemas))}</code>" if schemas else ""
        described = escape(str(response.get("description", "")))
        items.append(f"<li><strong>{escape(str(status))}</strong> {described}{returns}</li>")
    return f"<h4>Responses</h4><ul>{''.join(items)}</ul>" if items else ""


def render_reference(openapi: dict[str, Any], json_url: str) -> str:
    info = openapi.get("info", {})
    title = f"{info.get('title', 'API')} API reference"
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in (openapi.get("paths") or {}).items():
        for method in METHODS:
            if isinstance(operation := item.get(method), dict):
                for tag in operation.get("tags") or [UNTAGGED]:
                    by_tag.setdefault(tag, []).append((method, path, operation))

    used: set[str] = {"main", "contents"}
    toc, sections = [], []
    for tag, operations in by_tag.items():
        tag_id = unique_id(f"tag-{slug(tag)}", used)
        links, blocks = [], []
        for method, path, operation in operations:
            op_id = unique_id(f"op-{slug(operation.get('operationId') or method + path)}", used)
            label = f"<span class='method {method}'>{method.upper()}</span> {path_code(path)}"
            links.append(f"<li><a href='#{op_id}'>{method.upper()} {path_code(path)}</a></li>")
            summary = operation.get("summary")
            blocks.append(
                f"<div class='op' id='{op_id}'><h3>{label}</h3>"
                + (f"<p><strong>{escape(summary)}</strong></p>" if summary else "")
                + ("<p class='deprecated'>Deprecated.</p>" if operation.get("deprecated") else "")
                + paragraphs(operation.get("description"))
                + render_parameters(operation.get("parameters") or [])
                + render_body(operation.get("requestBody"))
                + render_responses(operation.get("responses") or {})
                + "</div>"
            )
        toc.append(f"<li><a href='#{tag_id}'>{escape(tag)} ({len(operations)})</a><ul>{''.join(links)}</ul></li>")
        sections.append(f"<section><h2 id='{tag_id}'>{escape(tag)}</h2>{''.join(blocks)}</section>")

    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        "<a class='skip' href='#main'>Skip to the operations</a><div class='page'>"
        f"<header><h1>{escape(title)}</h1>"
        f"<p class='meta'>Version {escape(str(info.get('version', '')))}, OpenAPI {escape(openapi.get('openapi', ''))}"
        f"</p>{paragraphs(info.get('description'))}"
        f"<p class='doc'><a href='{escape(json_url)}'>The OpenAPI document (JSON)</a></p></header>"
        f"<nav aria-labelledby='contents'><h2 id='contents'>Contents</h2><ul>{''.join(toc)}</ul></nav>"
        f"<main id='main' tabindex='-1'>{''.join(sections)}</main></div></body></html>\n"
    )


class ApiReference(OpenAPIRenderPlugin):
    """Serves :func:`render_reference` at the OpenAPI path itself (``/schema``)."""

    def __init__(self, *, path: str | Sequence[str] = "/", **kwargs: Any) -> None:
        super().__init__(path=path, **kwargs)

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        return render_reference(openapi_schema, self.get_openapi_json_route(request)).encode()
