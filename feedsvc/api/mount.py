"""The write API's routes for the app, its code loaded by the first request to one of them.

Most servers never get an API request (the API is off unless FEEDSVC_API_TOKEN
is set), so api/routes.py, api/documents.py and api/openapi.py are not part of
every start: importing them took ~5 ms of a warm restart with their bytecode
cached, ~35 ms where it is compiled at start (measured).
"""

from __future__ import annotations

from starlette.routing import Route
from starlette.types import Receive, Scope, Send

# Each path with the name of its endpoint in api/routes.py (ENDPOINTS), which builds its own ROUTES from this.
PATHS = (
    ("/api/openapi.json", "OpenAPIDocument"),
    ("/api/articles", "ArticleList"),
    ("/api/articles/{slug:path}", "ArticleResource"),
)


class Deferred:
    """An endpoint of api/routes.py as an ASGI app, imported on its first request.

    Like the endpoint class itself, it is a plain ASGI app to Starlette's
    Route (every method reaches it; the class answers 405 with Allow).
    """

    def __init__(self, name: str) -> None:
        self.name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from feedsvc.api.routes import ENDPOINTS

        await ENDPOINTS[self.name](scope, receive, send)


ROUTES = [Route(path, Deferred(name)) for path, name in PATHS]
