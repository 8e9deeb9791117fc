"""Podcast apps: what podcastparser (gPodder's parser), feedparser and lxml read from our feeds.

Every feed has cover art, every episode lists each of its images once, with
its real size and type where they are known. The itunes namespace is there
the way podcast apps and directories read it when the site has an owner to
contact (--owner-email), and absent otherwise, when podcast apps still get
the cover, each episode's art and its image once from RSS and Media RSS.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import feedparser
import podcastparser
import pytest
from lxml import etree
from starlette.testclient import TestClient

from feedsvc.content.model import Article
from feedsvc.content.parse import parse_article
from feedsvc.core.index import ALL, FeedKind, FeedRef, Index
from feedsvc.render import FORMATS
from feedsvc.render.spec import SUMMARY_MAX, Site, feed_spec
from feedsvc.render.urls import Urls
from feedsvc.settings import ConfigError, load_settings

from .conftest import REPO, article, front_matter, poll_until

BASE = "https://feeds.example.com"
COVER = f"{BASE}/cover.png"
ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"


def make(name: str = "a", **fields: Any) -> Article:
    fields.setdefault("title", f"Article {name}")
    return parse_article(front_matter(article(**fields)), f"{name}.md")


# A site with an owner: its RSS feeds carry the itunes namespace (see Site.podcast).
OWNED = Site(owner_email="podcasts@example.com")


def render(articles: Sequence[Article], fmt: str = "rss", ref: FeedRef = ALL, site: Site = OWNED) -> bytes:
    index = Index(articles)
    info = index.info(ref)
    assert info is not None
    selected = index.select(ref, 50)
    return FORMATS[fmt].render(feed_spec(info, site, Urls(BASE), fmt, 50, selected), selected)


def podcast(body: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = podcastparser.parse(f"{BASE}/feed", io.BytesIO(body))
    return parsed


def readable(body: bytes) -> feedparser.FeedParserDict:
    result = feedparser.parse(body)
    assert result.bozo == 0, result.get("bozo_exception")
    return result


def every_feed(client: TestClient) -> list[str]:
    """Every RSS and Atom feed URL the OPML list offers (podcast apps read no JSON Feed)."""
    opml = etree.fromstring(client.get("/feeds.opml").content)
    urls = [outline.get("xmlUrl") for outline in opml.iter("outline") if outline.get("xmlUrl")]
    urls = [url for url in urls if not url.endswith(".json")]
    assert len(urls) > 20
    return urls


# Cover art


def test_podcast_every_feed_of_the_seeds_has_a_cover(seed_client: TestClient):
    seen = set()
    for url in every_feed(seed_client):
        feed = podcast(seed_client.get(url).content)
        cover = feed.get("cover_url")
        assert cover, url
        seen.add(cover)
        if "/providers/" not in url:  # topics and all articles have no logo of their own
            assert cover == "http://feeds.test/cover.png", url
    assert len(seen) > 2  # provider logos, and the site's cover
    for cover in seen:  # the cover art is real: the service's own, or the provider's logo
        assert cover == "http://feeds.test/cover.png" or cover.endswith(".jpg")


def test_podcast_cover_is_the_provider_logo_or_the_site_image():
    logo = {"url": "https://x.org/logo.jpg", "width": 50, "height": 50}
    items = [make("p", provider={"name": "X", "domain": "x.org", "images": [logo]})]
    provider = FeedRef(FeedKind.PROVIDER, "x.org")
    assert podcast(render(items, "rss", provider))["cover_url"] == logo["url"]
    assert podcast(render(items, "atom", provider))["cover_url"] == logo["url"]
    topic = FeedRef(FeedKind.TOPIC, "testing")
    for fmt in ("rss", "atom"):  # what podcast apps read
        assert podcast(render(items, fmt, topic))["cover_url"] == COVER
        site = Site(image="https://cdn.example/art/cover.jpg")
        assert podcast(render(items, fmt, topic, site))["cover_url"] == "https://cdn.example/art/cover.jpg"
        assert podcast(render(items, fmt, provider, site))["cover_url"] == logo["url"]  # a logo of its own wins


@pytest.mark.parametrize(
    ("logo", "why"),
    [
        ({"url": "https://x.org/logo.svg"}, "not a JPEG or PNG"),
        ({"url": "https://x.org/logo.png?v=2"}, "the URL does not end in .png"),
        ({"url": "https://x.org/logo.png", "width": 600, "height": 300}, "not square"),
    ],
)
def test_podcast_cover_is_the_site_image_when_the_logo_cannot_be_one(logo: dict[str, Any], why: str):
    items = [make("p", provider={"name": "X", "domain": "x.org", "images": [logo]})]
    channel = etree.fromstring(render(items, "rss", FeedRef(FeedKind.PROVIDER, "x.org"))).find("channel")
    assert channel is not None
    assert channel.find(f"{ITUNES}image").get("href") == COVER, why
    atom = readable(render(items, "atom", FeedRef(FeedKind.PROVIDER, "x.org")))
    assert atom.feed.logo == logo["url"]  # Atom's logo stays the provider's


def test_cover_png_is_a_square_png_served_with_validators(seed_client: TestClient):
    response = seed_client.get("/cover.png", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    body = response.content
    assert body.startswith(b"\x89PNG\r\n\x1a\n") and body[12:16] == b"IHDR"
    width, height = struct.unpack(">II", body[16:24])
    assert width == height and 1400 <= width <= 3000  # what podcast apps ask for
    assert len(body) < 100_000
    assert body == (REPO / "feedsvc" / "static" / "cover.png").read_bytes()
    max_age = int(response.headers["cache-control"].split("max-age=")[1])
    assert max_age >= 24 * 3600
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    again = seed_client.get("/cover.png", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert seed_client.head("/cover.png").status_code == 200
    assert seed_client.post("/cover.png").status_code == 405


def test_cover_follows_the_host_rule(seed_client: TestClient):
    assert seed_client.get("/cover.png", headers={"Host": "evil.example"}).status_code == 400


# Each image once per episode, with its real size where known


def three_images() -> Article:
    images = [
        {"url": "https://img.example/one.png", "width": 800, "height": 600},
        {"url": "https://img.example/two.jpg"},
        {"url": "https://img.example/three.webp"},
    ]
    return make("three", images=images)


def test_podcast_lists_each_image_once_per_episode():
    item = three_images()
    (episode,) = podcast(render([item]))["episodes"]
    assert [(e["url"], e["mime_type"], e["file_size"]) for e in episode["enclosures"]] == [
        ("https://img.example/one.png", "image/png", -1),  # -1: size unknown
        ("https://img.example/two.jpg", "image/jpeg", -1),
        ("https://img.example/three.webp", "image/webp", -1),
    ]
    (entry,) = podcast(render([item], "atom"))["episodes"]
    assert [e["url"] for e in entry["enclosures"]] == ["https://img.example/one.png"]


def test_podcast_sees_the_real_size_and_type_when_known():
    item = three_images()
    sized = item._replace(
        images=(
            item.images[0]._replace(length=123_456, type="image/png"),
            item.images[1]._replace(length=7_890, type="image/gif"),  # the server knows better than the URL
            item.images[2],
        )
    )
    (episode,) = podcast(render([sized]))["episodes"]
    assert [(e["file_size"], e["mime_type"]) for e in episode["enclosures"]] == [
        (123_456, "image/png"),
        (7_890, "image/gif"),
        (-1, "image/webp"),
    ]
    rss = readable(render([sized])).entries[0]
    assert [(e.href, e.length, e.type) for e in rss.enclosures] == [
        ("https://img.example/one.png", "123456", "image/png")
    ]
    assert [(c["url"], c.get("filesize")) for c in rss.media_content] == [
        ("https://img.example/two.jpg", "7890"),
        ("https://img.example/three.webp", None),
    ]
    atom = readable(render([sized], "atom")).entries[0]
    assert [(e.href, e.length, e.type) for e in atom.enclosures] == [
        ("https://img.example/one.png", "123456", "image/png")
    ]


def test_podcast_sees_sizes_given_in_front_matter():
    images = [{"url": "https://img.example/one.png", "size": 2048, "type": "image/png"}]
    (episode,) = podcast(render([make("fm", images=images)]))["episodes"]
    assert [(e["file_size"], e["mime_type"]) for e in episode["enclosures"]] == [(2048, "image/png")]


def test_podcast_each_image_once_on_the_seeds(seed_client: TestClient):
    for url in every_feed(seed_client):
        if url.endswith(".rss"):
            for episode in podcast(seed_client.get(url).content)["episodes"]:
                urls = [enclosure["url"] for enclosure in episode["enclosures"]]
                assert len(urls) == len(set(urls)), (url, episode["title"])
                assert all(enclosure["mime_type"].startswith("image/") for enclosure in episode["enclosures"])


class ImageServer:
    """Real image files on loopback: /cover.png (the service's own cover art, a real PNG) and
    /photo (the same bytes, its type given only by the server)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        body = (REPO / "feedsvc" / "static" / "cover.png").read_bytes()
        self.size = len(body)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                self.send_response(200 if self.path in ("/cover.png", "/photo") else 404)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()

            def do_GET(self) -> None:
                self.do_HEAD()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def image_server() -> Iterator[ImageServer]:
    server = ImageServer()
    yield server
    server.close()


def test_podcast_sees_the_size_the_image_server_gives(
    image_server: ImageServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """End to end: the enclosure probe asks the image server on loopback, and a podcast app
    reading the served feed then sees each image's real size and type."""
    from feedsvc.app import create_app
    from feedsvc.live import probe
    from feedsvc.settings import Settings

    monkeypatch.setattr(probe, "START_SECONDS", 0.0)  # readers first, but no reader here
    folder = tmp_path / "content"
    folder.mkdir()
    urls = [f"{image_server.url}/cover.png", f"{image_server.url}/photo"]
    (folder / "a.md").write_text(front_matter(article(title="Probed", images=[{"url": url} for url in urls])))
    settings = Settings(
        content=folder, enclosure_probe="all", snapshot="off", watch="off", allowed_hosts=("feeds.test",)
    )

    def enclosures(client: TestClient) -> list[tuple[str, int, str]]:
        (episode,) = podcast(client.get("/feeds/all.rss").content)["episodes"]
        return [(e["url"], e["file_size"], e["mime_type"]) for e in episode["enclosures"]]

    with TestClient(create_app(settings), base_url="http://feeds.test") as client:
        # /photo names no type: the server's answer gives it.
        expected = [(url, image_server.size, "image/png") for url in urls]
        poll_until(lambda: enclosures(client), lambda found: found == expected, timeout=30)
        assert readable(client.get("/feeds/all.rss").content).entries[0].enclosures[0].length == str(image_server.size)


# The itunes namespace


def test_podcast_channel_fields():
    feed = podcast(render([three_images()]))
    assert feed["itunes_author"] == "feedsvc"
    assert feed["itunes_categories"] == [["News"]]
    assert feed["explicit"] is False
    assert feed["description"] == "Every article published on feedsvc, newest first."
    assert feed["itunes_owner"] == {"name": "feedsvc", "email": "podcasts@example.com"}
    provider = podcast(render([three_images()], ref=FeedRef(FeedKind.PROVIDER, "example.org")))
    assert provider["itunes_author"] == "Example News"


def test_podcast_episode_fields():
    item = three_images()
    (episode,) = podcast(render([item]))["episodes"]
    assert episode["title"] == item.title
    assert episode["type"] == "full"
    assert episode["description"] == item.excerpt
    assert episode["episode_art_url"] == "https://img.example/one.png"  # its first JPEG or PNG
    assert episode["link"] == item.url


def test_podcast_episode_artwork_is_the_first_jpeg_or_png():
    item = make("art", images=[{"url": "https://img.example/a.webp"}, {"url": "https://img.example/b.jpg"}])
    entry = etree.fromstring(render([item])).find("channel/item")
    assert entry is not None
    assert [image.get("href") for image in entry.iter(f"{ITUNES}image")] == ["https://img.example/b.jpg"]
    none = make("none", images=[{"url": "https://img.example/a.webp"}])
    entry = etree.fromstring(render([none])).find("channel/item")
    assert entry is not None and entry.find(f"{ITUNES}image") is None  # the channel's cover shows instead


def test_feedparser_sees_the_itunes_fields():
    item = three_images()
    result = readable(render([item]))
    assert result.feed.image.href == COVER
    assert result.feed.author == "feedsvc"
    assert {"term": "News", "scheme": "http://www.itunes.com/", "label": None} in result.feed.tags
    entry = result.entries[0]
    assert entry.itunes_episodetype == "full"
    assert entry.image.href == "https://img.example/one.png"
    assert entry.title == item.title
    assert [t["url"] for t in entry.media_thumbnail] == [image.url for image in item.images]


def test_itunes_text_is_cut_to_what_directories_take():
    long = make("long", excerpt="word " * 2000)
    site = Site(title="T" * 300, owner_email="podcasts@example.com")
    channel = etree.fromstring(render([long], site=site)).find("channel")
    assert channel is not None
    assert len(channel.findtext(f"{ITUNES}author") or "") == 255
    summary = channel.findtext(f"item/{ITUNES}summary") or ""
    assert len(summary) == SUMMARY_MAX and long.excerpt.startswith(summary)


def test_without_an_owner_no_itunes_namespace_yet_podcast_apps_see_the_same_episodes():
    """No owner address: no itunes element (each would make the W3C validator ask
    for itunes:email), and podcastparser still sees the cover, each episode's
    art and each image once."""
    items = [three_images()]
    plain, owned = render(items, site=Site()), render(items)
    assert b"itunes" not in plain
    assert b"<itunes:" in owned and b"<itunes:owner>" in owned
    without, with_owner = podcast(plain), podcast(owned)
    assert without["cover_url"] == with_owner["cover_url"] == COVER
    assert [e["enclosures"] for e in without["episodes"]] == [e["enclosures"] for e in with_owner["episodes"]]
    # The art is one of the episode's images (from media:thumbnail; itunes:image picks a JPEG or PNG).
    images = {image.url for image in items[0].images}
    assert [e["episode_art_url"] in images for e in without["episodes"]] == [True]


def test_atom_has_no_itunes_elements():
    assert b"itunes" not in render([three_images()], "atom")


def test_podcast_elements_escape_content():
    item = make(
        "esc",
        title="A & B < C",
        excerpt='"x" & <y>',
        images=[{"url": "https://img.example/a.png?x=1&y=2.png"}],
        provider={"name": "AT&T <3", "domain": "pq.example"},
    )
    body = render([item], ref=FeedRef(FeedKind.PROVIDER, "pq.example"), site=Site(owner_email="a@b.example"))
    feed = podcast(body)
    assert feed["itunes_author"] == "AT&T <3"
    (episode,) = feed["episodes"]
    assert episode["title"] == "A & B < C"
    assert episode["episode_art_url"] == "https://img.example/a.png?x=1&y=2.png"


# Settings


@pytest.mark.parametrize(
    "value",
    ["cover.png", "ftp://x.org/a.png", "https://x.org/a.gif", "https://x.org/a.png?v=1", "https://x.org/a b.png"],
)
def test_site_image_setting_refuses_what_podcast_apps_cannot_show(value: str):
    with pytest.raises(ConfigError, match="FEEDSVC_SITE_IMAGE"):
        load_settings({}, {"FEEDSVC_SITE_IMAGE": value})


@pytest.mark.parametrize("value", ["nobody", "a@", "@b.example", "a b@c.example", "a@b.example>"])
def test_owner_email_setting_refuses_what_is_not_an_address(value: str):
    with pytest.raises(ConfigError, match="--owner-email"):
        load_settings({"owner_email": value}, {})


def test_site_image_and_owner_reach_the_served_feeds(client_for: Callable[..., TestClient]):
    client = client_for(REPO / "seeds", site_image="https://cdn.example/cover.jpg", owner_email="feeds@example.com")
    feed = podcast(client.get("/feeds/topics/ai.rss").content)
    assert feed["cover_url"] == "https://cdn.example/cover.jpg"
    assert feed["itunes_owner"]["email"] == "feeds@example.com"


def test_build_writes_feeds_whose_cover_is_the_service_own(tmp_path: Path):
    """A static export names the cover at its base URL, like the service, and holds it."""
    from feedsvc.content.loader import load_folder
    from feedsvc.export import export

    index = Index(load_folder(REPO / "seeds").articles)
    export(index, Site(), BASE, tmp_path / "out")
    assert podcast((tmp_path / "out" / "feeds" / "all.rss").read_bytes())["cover_url"] == COVER
    assert (tmp_path / "out" / "cover.png").read_bytes() == (REPO / "feedsvc" / "static" / "cover.png").read_bytes()
    export(index, Site(image="https://cdn.example/art.png"), BASE, tmp_path / "other")
    assert (
        podcast((tmp_path / "other" / "feeds" / "all.rss").read_bytes())["cover_url"] == "https://cdn.example/art.png"
    )
    assert not (tmp_path / "other" / "cover.png").exists()  # not named by any feed
