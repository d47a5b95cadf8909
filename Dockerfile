# The image of each of the three services: one Dockerfile, the service chosen at build time.
# Build context: the repository root.
#   docker build -t secondment-needs .
#   docker build --build-arg SERVICE=placement --build-arg HTTP_PORT=8002 -t secondment-placement .
#   docker build --build-arg SERVICE=reporting --build-arg HTTP_PORT=8003 -t secondment-reporting .
# SERVICE names the package run (`python -m services.$SERVICE`); HTTP_PORT is that service's
# default port (its settings' `http_port`), which the build checks. docker-compose.yml passes
# both. Configuration: <SERVICE>_* environment variables (services/<name>/config.py,
# deploy/README.md).
#
# The build stage does not depend on SERVICE: the three images share it, and their runtime
# stages differ only in the lines after `ARG SERVICE`.

# The base image is pinned by digest (the tag alone may move to other content); to take a newer
# python:3.11-slim, replace the digest in both FROM lines (deploy/README.md, "Supply chain").

# --- build: install the project and its runtime dependencies into a virtualenv ------------------
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7 AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
WORKDIR /src
# Only what requirements.lock pins, each file checked against its hashes (`make lock`): nothing
# is resolved at build time. Without the dev extras: the image holds only what runs in production.
COPY requirements.lock ./
RUN /opt/venv/bin/pip install --require-hashes -r requirements.lock
COPY pyproject.toml ./
COPY shared/ shared/
COPY services/ services/
# The project itself, not editable: no dependencies of its own left to fetch, and built with the
# locked setuptools instead of an unpinned one in an isolated build environment.
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation .
# Smoke check from outside the source tree: the installed package carries every service's
# migrations.
RUN cd /tmp && /opt/venv/bin/python -c "import services.needs.bootstrap as n, services.placement.bootstrap as p, services.reporting.bootstrap as r; missing = [b.MIGRATIONS for b in (n, p, r) if not (b.MIGRATIONS / 'env.py').is_file()]; assert not missing, missing"

# --- runtime: the virtualenv only, as an unprivileged user --------------------------------------
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7 AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin app

COPY --from=build /opt/venv /opt/venv
WORKDIR /app

# The service this image runs, and its settings' default HTTP port.
ARG SERVICE=needs
ARG HTTP_PORT=8001
ENV SECONDMENT_SERVICE=${SERVICE} \
    SECONDMENT_DEFAULT_HTTP_PORT=${HTTP_PORT}
# A SERVICE that is not a service, or an HTTP_PORT other than its settings' default (the port
# EXPOSE documents and the HEALTHCHECK falls back to), fails the build rather than the container.
RUN python -c "import importlib, os; s = os.environ['SECONDMENT_SERVICE']; config = importlib.import_module(f'services.{s}.config'); port = [c.model_fields['http_port'].default for c in vars(config).values() if isinstance(c, type) and c.__module__ == config.__name__ and 'http_port' in getattr(c, 'model_fields', {})]; port == [int(os.environ['SECONDMENT_DEFAULT_HTTP_PORT'])] or exit(f'SERVICE={s}: HTTP_PORT must be its default port {port}')"

USER 10001:10001

EXPOSE ${HTTP_PORT}

# Alive once uvicorn serves, i.e. after the database was migrated and Kafka joined.
# No curl in the slim image: python's urllib; the port follows <SERVICE>_HTTP_PORT.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; prefix = os.environ['SECONDMENT_SERVICE'].upper(); urllib.request.urlopen('http://127.0.0.1:' + os.environ.get(prefix + '_HTTP_PORT', os.environ['SECONDMENT_DEFAULT_HTTP_PORT']) + '/healthz', timeout=4)"]

# `python -m services.<name>`; exec: python is PID 1 and gets the stop signal itself.
CMD ["sh", "-c", "exec python -m \"services.${SECONDMENT_SERVICE}\""]
