"""The console: review's web pages for reviewers and auditors, under /console, in Bahasa Indonesia.

Server-rendered (Jinja2) with a little plain JavaScript; every style sheet, script and icon is served by
the service itself (`static/`), so the pages work in an office cut off from the internet. A reviewer or
auditor signs in once with an API key and then holds a session cookie (`sessions.py`); every form carries
the session's CSRF token (`deps.py`). Decisions go through the same application service as the API's
(`routes/decisions.py`), and every read goes through the review's own queries and views."""

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.review.console.errors import install_error_pages
from services.review.console.pages import HERE
from services.review.console.routes import audit, auth, decisions, proposal, queue


def install_console(app: FastAPI) -> None:
    install_error_pages(app)
    for routes in (auth, queue, proposal, decisions, audit):
        app.include_router(routes.router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
