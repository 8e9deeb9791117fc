# feedsvc: RSS 2.0 and Atom 1.0 feeds from a folder of article files.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY feedsvc ./feedsvc
# /var/cache/feedsvc is the service user's, so a volume mounted there starts out writable.
RUN pip install . && useradd --system --no-create-home feedsvc \
    && mkdir -p /var/cache/feedsvc && chown feedsvc:feedsvc /var/cache/feedsvc

USER feedsvc
# The start-up snapshot lives in the cache folder; the service user has no home.
ENV FEEDSVC_CONTENT=/content FEEDSVC_HOST=0.0.0.0 FEEDSVC_PORT=8000 XDG_CACHE_HOME=/var/cache
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"
CMD ["feedsvc", "serve"]
