# Sepsis Sentinel: the app (`sentinel serve`, gunicorn) and, with another command, the screening worker.
#
# NOT BUILT on the project's build machines: no base image can be pulled there. What it runs is what CI runs:
# scripts/bootstrap.sh installs the project at the versions in constraints.txt, the same script and lock file
# every test run installs through. Build and run: see README, "Deploying at a hospital".
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN useradd --system --uid 10001 --no-create-home --home-dir /nonexistent sentinel
WORKDIR /srv/sentinel

# The app as the repository holds it (.dockerignore keeps out .venv, instance, artifacts and .git). Not the
# sandbox EHR: it is a separate distribution for the demo and the tests, and `scripts/bootstrap.sh` without
# arguments installs the app alone.
COPY pyproject.toml constraints.txt smart_launch.json README.md ./
COPY scripts ./scripts
COPY app ./app
COPY templates ./templates
COPY static ./static
COPY model_artifacts ./model_artifacts
RUN scripts/bootstrap.sh \
    && .venv/bin/sentinel licences > /srv/sentinel/LICENCES.txt

ENV PATH="/srv/sentinel/.venv/bin:${PATH}" \
    SENTINEL_ENV=production \
    SENTINEL_LOG_FORMAT=json \
    SENTINEL_AUTO_MIGRATE=false \
    SENTINEL_METRICS_DIR=/tmp/sentinel-metrics

USER sentinel
EXPOSE 8000
# Liveness only (the process answers); the orchestrator's readiness probe is GET /readyz.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/livez', timeout=4)"]
CMD ["sentinel", "serve", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "8"]
