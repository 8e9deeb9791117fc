# feedsvc: RSS 2.0 and Atom 1.0 feeds from a folder of article files.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY feedsvc ./feedsvc
RUN pip install . && useradd --system --no-create-home feedsvc

USER feedsvc
# The start-up snapshot lives in the cache folder; the service user has no home.
ENV FEEDSVC_CONTENT=/content FEEDSVC_HOST=0.0.0.0 FEEDSVC_PORT=8000 XDG_CACHE_HOME=/tmp/feedsvc-cache
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["feedsvc", "serve"]
