"""The write API against its own OpenAPI document, with schemathesis.

The document is read from the running app (/api/openapi.json). Every
default check runs on every answer: status codes, content types, headers and
bodies as documented; schema-valid requests accepted and invalid ones refused
with a 4xx; the token enforced; 405 with the right Allow for other methods;
never a 5xx. All three phases run (examples, coverage, fuzzing), positive and
negative, with bounded examples so the suite stays quick.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import hypothesis
import schemathesis
from schemathesis.openapi import from_asgi

from feedsvc.api.documents import JSON_TYPES
from feedsvc.api.throttle import AuthThrottle
from feedsvc.app import FeedApp, create_app
from feedsvc.settings import Settings

from .conftest import REPO

TOKEN = "schema-token-0123456789abcdef"
# per operation and phase; FEEDSVC_SCHEMA_EXAMPLES=500 for a deeper local run
EXAMPLES = int(os.environ.get("FEEDSVC_SCHEMA_EXAMPLES", "40"))


def make_app() -> FeedApp:
    """The app on a private copy of the seeds. Made at import: schemathesis reads the document
    when the test is collected (its fixture-based loader does not work with pytest 9)."""
    folder = Path(tempfile.mkdtemp(prefix="feedsvc-schema-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    content = folder / "content"
    shutil.copytree(REPO / "seeds", content)
    settings = Settings(
        content=content,
        base_url="http://testserver",  # the host schemathesis sends
        api_token=TOKEN,
        watch="off",
        snapshot="off",
        api_max_bytes=65536,
    )
    app = create_app(settings)
    # schemathesis probes every operation without the token (expecting 401), all from one
    # address: with the real limit it would soon be answered 429 and test nothing else.
    app.state.auth_throttle = AuthThrottle(limit=1_000_000)
    return app


schema = from_asgi("/api/openapi.json", make_app())
schema.config.update(headers={"Authorization": f"Bearer {TOKEN}"})
schema.config.generation.update(max_examples=EXAMPLES)


@schema.hook
def filter_case(context: schemathesis.HookContext, case: schemathesis.Case) -> bool:
    # A front-matter document (text/markdown) is text a JSON Schema cannot describe: a random
    # string is not an article. Those bodies are tested in test_api.py; JSON bodies here.
    return case.media_type is None or case.media_type in JSON_TYPES


@schema.parametrize()
@hypothesis.settings(deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
def test_api_conforms_to_its_openapi_document(case: schemathesis.Case) -> None:
    case.call_and_validate()
