"""Rendering the console's pages: one Jinja2 environment (autoescaped), the Indonesian filters, and the
headers every page carries (nothing from another origin, no caching of what a signed-in person saw)."""

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.review.console import formatting, labels

HERE = Path(__file__).parent

# Scripts, styles and images from the service itself only; no inline script; forms post only here; the
# pages are never framed (clickjacking a decision form).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(Environment):
    """Jinja2's `a.b` tries the attribute first and the item second; the pages' values are mostly dicts,
    for which that costs a raised and caught AttributeError per lookup. For a dict, the item is taken
    directly where the attribute cannot exist: the same answer as Jinja2's order (a dict's methods, such
    as `items`, still win over keys of that name, so an agency named "items" cannot hide them)."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def _environment() -> Environment:
    env = _Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a missing value is a bug to see in the tests, not an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # the templates ship with the service: no stat of each file on every page
    )
    env.filters.update(
        number=formatting.number,
        day=formatting.day,
        moment=formatting.moment,
        status=lambda name: labels.label(labels.STATUSES, name),
        section=lambda name: labels.label(labels.SECTIONS, name),
        document=lambda name: labels.label(labels.DOCUMENTS, name),
        event=lambda name: labels.label(labels.EVENTS, name),
        role=lambda name: labels.label(labels.ROLES, name),
        outcome=lambda name: labels.label(labels.OUTCOMES, name),
        stage=lambda name: labels.label(labels.STAGES, name),
        agency_kind=lambda name: labels.label(labels.AGENCY_KINDS, name),
    )
    env.globals["statuses"] = labels.STATUSES
    return env


ENVIRONMENT = _environment()


def render_text(template: str, **context: Any) -> str:
    return ENVIRONMENT.get_template(template).render(**context)


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The page, with the signed-in session (if any) for the header and the forms' CSRF token."""
    session = getattr(request.state, "console_session", None)
    context.setdefault("session", session)
    context.setdefault("csrf", session.csrf if session else "")
    context.setdefault("page", "")
    html = render_text(template, request_path=request.url.path, **context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
