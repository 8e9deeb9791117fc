"""A real WebSub hub on one port: Flask-WebSub's hub, with Celery running its tasks in-process.

Flask-WebSub (PyPI ``flask-websub``) does the hub's work: it takes subscriptions
and verifies the subscriber's intent with a GET to its callback (WebSub §5.3),
keeps them in SQLite, fetches a topic's content when told it changed, checks
its ``Link: rel="hub"``/``rel="self"`` header, and POSTs the content to every
subscriber (WebSub §7), signed when the subscriber gave a secret, retried with
backoff when a callback fails.

What this file adds, and why:

- **The publish ping.** How a publisher tells its hub is left to each hub by the
  spec (WebSub §6: "any mechanism"). feedsvc sends what Google's hub and
  Superfeedr take: ``hub.mode=publish`` with one ``hub.url`` per changed feed.
  Flask-WebSub's own publish mode reads a single ``hub.topic`` and, its docs
  say, does no input validation, so it stays off; this hub takes ``hub.url``
  (and ``hub.topic``), only for topics under ``--topic-prefix`` (so it is no
  open fetcher), and hands each one to Flask-WebSub's
  ``send_change_notification`` task.
- **The fetch.** Flask-WebSub fetches a topic with ``requests``, which asks for
  gzip and decodes it, and then passes the fetched headers on with the decoded
  body, ``Content-Encoding: gzip`` included: a subscriber that honours it
  cannot read the push. So this hub fetches the topic itself, asking for the
  identity encoding, and gives Flask-WebSub the content and the topic's
  end-to-end headers (its documented ``updated_content`` argument).
- **The task queue.** Flask-WebSub needs Celery. Here Celery uses kombu's
  in-memory broker and one worker with threads in the same process, so the hub
  is one command with no Redis; tasks run asynchronously, and failed deliveries
  are retried with Celery's countdown as Flask-WebSub asks.

Run: ``python deploy/websub_hub.py --port 8090 --topic-prefix http://feeds.example.com/``
"""

from __future__ import annotations

import argparse
import base64
import logging
import signal
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import requests
from celery import Celery
from celery.contrib.testing.worker import start_worker
from flask import Flask, Response, request
from flask_websub.hub import Hub, SQLite3HubStorage
from requests.structures import CaseInsensitiveDict
from werkzeug.serving import make_server

log = logging.getLogger("websub_hub")

HUB_PATH = "/hub"
FETCH_SECONDS = 10
# RFC 9110 §7.6.1 hop-by-hop fields and the ones the push request gets anew.
PER_TRANSFER = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "date"}


def topics_to_publish(form: dict[str, list[str]], prefixes: Sequence[str]) -> tuple[list[str], list[str]]:
    """Given a publish form, return the topics it names under ``prefixes`` and those it names elsewhere."""
    named = dict.fromkeys(form.get("hub.url", []) + form.get("hub.topic", []))
    accepted = [url for url in named if url.startswith(tuple(prefixes))]
    return accepted, [url for url in named if url not in accepted]


def end_to_end(headers: Mapping[str, str]) -> CaseInsensitiveDict[str]:
    """Given a fetched response's headers, return those that describe the content itself, not that one transfer."""
    # Case-insensitive, as Flask-WebSub expects ("Link"; feedsvc sends "link").
    return CaseInsensitiveDict({name: value for name, value in headers.items() if name.lower() not in PER_TRANSFER})


def create_app(database: Path, topic_prefixes: Sequence[str], celery: Celery) -> Flask:
    """Flask-WebSub's hub endpoint at /hub, with publish pings taken as described above."""
    app = Flask("websub_hub")
    hub = Hub(SQLite3HubStorage(str(database)), celery)
    app.register_blueprint(hub.build_blueprint(url_prefix=HUB_PATH))

    # A feed that cannot be fetched now (its server restarting) is tried again: 1 s, 2 s, 4 s, ...
    @celery.task(name="websub_hub.fetch_and_push", autoretry_for=(requests.RequestException,), retry_backoff=True)
    def fetch_and_push(topic: str) -> None:
        response = requests.get(topic, headers={"Accept-Encoding": "identity"}, timeout=FETCH_SECONDS)
        response.raise_for_status()
        content = {"headers": end_to_end(response.headers), "content": base64.b64encode(response.content).decode()}
        hub.send_change_notification(topic, content)  # checks the Link header, pushes to every subscriber

    @app.before_request
    def publish() -> Response | None:
        if request.method != "POST" or request.path != HUB_PATH or request.form.get("hub.mode") != "publish":
            return None  # subscribe and unsubscribe: Flask-WebSub's endpoint
        accepted, refused = topics_to_publish(request.form.to_dict(flat=False), topic_prefixes)
        if refused or not accepted:
            return Response(f"hub.url must start with one of {list(topic_prefixes)}: {refused}\n", status=400)
        for topic in accepted:
            fetch_and_push.delay(topic)
        log.info("publish of %d topic(s) queued", len(accepted))
        return Response(f"Request received: publish of {len(accepted)} topic(s)\n", status=202)

    return app


def in_process_celery() -> Celery:
    """Celery with kombu's in-memory broker: the hub's tasks never leave the process."""
    celery = Celery("websub_hub", broker="memory://", backend="cache+memory://")
    # kombu's virtual transports poll their queues, once a second by default: a second per task hop
    # (publish -> fetch -> push) would be most of a subscriber's wait.
    celery.conf.broker_transport_options = {"polling_interval": 0.02}
    return celery


@contextmanager
def running_hub(host: str, port: int, database: Path, topic_prefixes: Sequence[str]) -> Iterator[str]:
    """Serve the hub (and its Celery worker threads) until the block ends; yields the hub's URL."""
    celery = in_process_celery()
    app = create_app(database, topic_prefixes, celery)
    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    with start_worker(
        celery, pool="threads", concurrency=4, loglevel="INFO", perform_ping_check=False, shutdown_timeout=15
    ):
        thread.start()
        try:
            yield f"http://{host}:{server.server_port}{HUB_PATH}"
        finally:
            server.shutdown()
            thread.join(10)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--database", type=Path, default=Path("websub-hub.sqlite3"))
    parser.add_argument("--topic-prefix", action="append", required=True, help="publishable topics start so")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # docker stop, Popen.terminate: shut down cleanly
    with running_hub(args.host, args.port, args.database, args.topic_prefix) as url:
        print(f"WebSub hub at {url}", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
