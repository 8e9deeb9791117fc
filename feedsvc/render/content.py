"""The HTML an item carries as its full content (content:encoded / Atom content)."""

from __future__ import annotations

from html import escape

from feedsvc.content.model import Article, Image, Related


def excerpt_html(article: Article) -> str:
    """The excerpt, which is plain text, as HTML."""
    return escape(article.excerpt, quote=False)


def article_html(article: Article) -> str:
    """Given an article, return its full HTML content: excerpt, image, body, related links."""
    parts = []
    if article.excerpt:
        parts.append(f"<p>{excerpt_html(article)}</p>")
    if article.images:
        parts.append(f'<p><a href="{escape(article.url)}">{_img(article.images[0], article.title)}</a></p>')
    if article.body_html:
        parts.append(article.body_html)
    source = escape(article.provider.name) if article.provider else "the source"
    verb = "Watch the video" if article.kind == "video" else "Read the full article"
    parts.append(f'<p><a href="{escape(article.url)}">{verb} on {source}</a></p>')
    if article.related:
        items = "".join(_related_item(r) for r in article.related)
        parts.append(f"<h3>Related</h3><ul>{items}</ul>")
    return "\n".join(parts)


def _img(image: Image, alt: str) -> str:
    size = ""
    if image.width and image.height:
        size = f' width="{image.width}" height="{image.height}"'
    return f'<img src="{escape(image.url)}" alt="{escape(alt)}"{size}>'


def _related_item(related: Related) -> str:
    link = f'<a href="{escape(related.url)}">{escape(related.title)}</a>'
    details = []
    if related.provider:
        details.append(escape(related.provider.name))
    if related.published:
        details.append(related.published.strftime("%Y-%m-%d"))
    suffix = f" ({', '.join(details)})" if details else ""
    return f"<li>{link}{suffix}</li>"
