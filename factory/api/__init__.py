"""The HTTP edge: a JSON API (FastAPI, OpenAPI) and server-rendered pages, with API keys.

Takes HTTP requests; gives archive search and retrieval, exports, legal holds, runs and their
reports, and run starts, each behind an API key whose role is checked on every route.

    app        create_app(ApiConfig): services, error mapping, security headers
    security   key and session authentication, RoleCheck on every route, CSRF tokens
    routes     /api/...: JSON
    pages      the web pages (Jinja2, autoescaped; no JavaScript)
    launcher   runs started from the API, in a background thread with the usual executor
    catalog    the job files that may be started, by name
"""

from factory.api.app import ApiConfig, create_app

__all__ = ["ApiConfig", "create_app"]
