# packserve: serve Git refs over HTTP straight from packfiles.
#   docker build -t packserve .
#   docker run -p 8000:8000 -v /srv/site.git:/repos:ro packserve
# Configuration: PACKSERVE_<KEY> environment variables, or a TOML file mounted in
# /etc/packserve with -e PACKSERVE_CONFIG=/etc/packserve/config.toml.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# The engine reads repositories itself: no git binary, no compiler, nothing else.
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
 && rm -rf /wheels \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin packserve \
 && mkdir -p /repos /cache /etc/packserve \
 && chown packserve /cache
ENV PYTHONUNBUFFERED=1 \
    PACKSERVE_HOST=0.0.0.0 \
    PACKSERVE_PORT=8000 \
    PACKSERVE_REPOSITORY=/repos \
    PACKSERVE_CACHE_DIR=/cache
# Repositories are read-only input; the cache is the only thing packserve writes.
VOLUME ["/repos", "/cache"]
USER packserve
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PACKSERVE_PORT', '8000') + '/-/healthz', timeout=4)"]
# `docker stop` sends SIGTERM straight to packserve (exec form): it stops accepting and lets
# in-flight responses finish for up to graceful_timeout seconds (give `docker stop -t` more).
STOPSIGNAL SIGTERM
ENTRYPOINT ["packserve"]
CMD ["serve"]
