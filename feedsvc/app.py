"""The composition root: the ASGI app from settings.

It assembles the feed routes (web/), the write API (api/) and the live drivers
(live/), with the error responses and the service on app.state. Nothing in the
package imports it but the command line, so web/ and api/ import one way.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from feedsvc.api.mount import ROUTES as API_ROUTES
from feedsvc.api.throttle import AuthThrottle
from feedsvc.core import snapshot
from feedsvc.core.index import FeedRef
from feedsvc.live.probe import Prober
from feedsvc.live.schedule import release_when_due
from feedsvc.live.watcher import watch
from feedsvc.live.websub import HubNotifier
from feedsvc.memory import release_free_memory, trim_after_churn, tune_memory
from feedsvc.render import FORMATS
from feedsvc.render.urls import Urls
from feedsvc.settings import Settings, summary
from feedsvc.web.accesslog import AccessLog, RequestLog
from feedsvc.web.budget import WorkBudget
from feedsvc.web.fastpath import FastFeeds
from feedsvc.web.metrics import ROUTES as OPS_ROUTES
from feedsvc.web.metrics import Metrics
from feedsvc.web.routes import ROUTES, base_url
from feedsvc.web.service import FeedService

log = logging.getLogger(__name__)


async def http_error(request: Request, exc: Exception) -> Response:
    """Client mistakes get their status and a one-line explanation in plain text."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and exc.detail == "Not Found":  # no route matched
        redirect = _slash_redirect(request)
        if redirect is not None:
            return redirect
        detail = "no such page: feeds are at /feeds/all.rss, /feeds/topics/{topic}.rss, /feeds/providers/{domain}.rss"
    else:
        detail = exc.detail
    return PlainTextResponse(f"{detail}\n", status_code=exc.status_code, headers=exc.headers)


def _slash_redirect(request: Request) -> Response | None:
    """A redirect to the same path with the trailing slash toggled, if that one is a route.

    Starlette's own redirect_slashes builds the target from the request's
    Host; this one uses the base URL, like every other URL we publish.
    """
    path = request.url.path
    if path == "/":
        return None
    other = path[:-1] if path.endswith("/") else f"{path}/"
    scope = {**request.scope, "path": other}
    if not any(route.matches(scope)[0] is not Match.NONE for route in request.app.router.routes):
        return None
    try:
        base = base_url(request, request.app.state.service)
    except HTTPException as exc:
        return PlainTextResponse(f"{exc.detail}\n", status_code=exc.status_code)
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"{base}{quote(other)}{query}", status_code=301)


# While a background thread runs Python (the enclosure probe reading 21,000 records' heads, ~0.1 s),
# a request waits for the interpreter at every switch: 1 ms apart instead of CPython's 5. First
# requests at 100,000 articles with a probe pass always running: p99 24.4 ms at 5 ms, 10.4-12.0 at 1.
SWITCH_SECONDS = 0.001


def serving_app(settings: Settings) -> FeedApp:
    """The app `feedsvc serve` runs: the folder loaded, the process tuned for a long-lived
    server, and the start-up snapshot written when the folder had to be read in full."""
    service, how = FeedService.load(settings)
    path = snapshot.path_for(settings)
    for line in summary(settings, path):
        log.info("%s", line)
    release_free_memory()
    # After loading: its big temporary buffers (a 16 MB snapshot, say) are quicker
    # from the heap than from fresh mappings (measured: 6 ms of a 0.3 s warm start).
    tune_memory()
    sys.setswitchinterval(SWITCH_SECONDS)
    if path is not None and how == "full" and service.publisher.saved_to != path:
        # Off the start-up path: the service is ready before the snapshot is written; then it
        # serves from that file, mapped, as a restart would (the heap gives back the records).
        threading.Thread(target=service.publisher.save_snapshot, args=(path, True), daemon=True).start()
    return create_app(settings, service)


def create_app(
    settings: Settings, service: FeedService | None = None, middleware: Sequence[Middleware] = ()
) -> FeedApp:
    """Given settings (and optionally a ready service and middleware), return the ASGI app.

    The content folder is loaded here, before the server binds, so a broken
    configuration fails at start-up. The watcher, the scheduler, the WebSub
    notifier and the enclosure probe run for the lifetime of the server.
    """
    service = service or FeedService.load(settings)[0]
    routes = [*ROUTES, *API_ROUTES, *OPS_ROUTES]
    access = AccessLog(routes, enabled=settings.access_log == "on", log_format=settings.log_format)
    metrics = Metrics(service, access)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        app.state.ready = asyncio.Event()
        access.start()
        stop_metrics = metrics.serve(settings.host, settings.metrics_port) if settings.metrics_port else None
        tasks = []
        if settings.websub_hub:
            notifier = HubNotifier(settings.websub_hub, topic_urls(settings))
            metrics.notifier = notifier
            service.publisher.listeners.append(notifier.on_index_change)
            tasks.append(asyncio.create_task(notifier.run(stop)))
        tasks.append(asyncio.create_task(release_when_due(service.publisher, stop)))
        tasks.append(asyncio.create_task(trim_after_churn(service.evicted_bytes, stop)))
        if settings.enclosure_probe != "off":
            prober = Prober(service.publisher, settings.enclosure_probe)
            metrics.prober = prober
            service.publisher.listeners.append(prober.on_index_change)
            tasks.append(asyncio.create_task(prober.run(stop)))
        if settings.watch != "off":
            latency = metrics.live_update_seconds.observe
            app.state.watcher = asyncio.create_task(
                watch(service.publisher, settings.watch, stop, app.state.ready, latency)
            )
            tasks.append(app.state.watcher)
        else:
            app.state.ready.set()
        generation = service.index.generation
        try:
            yield
        finally:
            stop.set()
            if tasks:
                await asyncio.wait(tasks, timeout=5)
            for task in tasks:
                task.cancel()
            path = snapshot.path_for(settings)
            if path is not None and service.index.generation != generation:
                service.publisher.save_snapshot(path)  # the next start needs to re-read less
            if stop_metrics is not None:
                stop_metrics()
            access.stop()  # the last lines are written

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error}, lifespan=lifespan)
    app.router.redirect_slashes = False  # http_error redirects, to the base URL
    app.state.service = service
    app.state.auth_throttle = AuthThrottle()  # failed API authentications per address
    app.state.work_budget = WorkBudget()  # server time for filtered feeds and searches, per address
    app.state.metrics = metrics
    # The access log and request counts wrap everything else: one record per request, whoever answers it.
    return FeedApp(app, service, [Middleware(RequestLog, access), *middleware])


class FeedApp(FastFeeds):
    """The ASGI app: cross-cutting middleware, then the cache fast path, then the Starlette app.

    Every cross-cutting concern (metrics, access logs, rate limits, ...) is a
    ``Middleware`` given to create_app: it wraps the fast path, so it sees the
    repeat requests the cache answers as well as routed ones. Starlette's own
    middleware list stays empty (a test holds it so): middleware there would
    sit behind the fast path and miss most requests.
    """

    def __init__(self, app: ASGIApp, service: FeedService, middleware: Sequence[Middleware] = ()) -> None:
        super().__init__(app, service)
        outer: ASGIApp = super().__call__
        for entry in reversed(middleware):
            outer = entry.cls(outer, *entry.args, **entry.kwargs)
        self._outer = outer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._outer(scope, receive, send)

    @property
    def state(self) -> State:
        return self.starlette.state

    @property
    def starlette(self) -> Starlette:
        assert isinstance(self.app, Starlette)
        return self.app


def topic_urls(settings: Settings) -> Callable[[FeedRef], list[str]]:
    """The URLs a WebSub hub knows a feed by: its default URL in every format."""
    assert settings.base_url is not None  # load_settings insists when hubs are set
    urls = Urls(settings.base_url)
    return lambda ref: [urls.feed(ref, extension) for extension in FORMATS]
