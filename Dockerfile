# minewatch: one image for every Python role in compose.yaml (nightly worker, Prefect
# server, dask scheduler/workers, pgstac migrate, stac-fastapi), so dask, distributed,
# cloudpickle and prefect are the same versions on both sides of every connection.
#   docker build -t minewatch:0.1.0 .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TZ=Asia/Shanghai

# tzdata: the nightly cron is in Asia/Shanghai; curl: compose health checks
RUN apt-get update \
 && apt-get install -y --no-install-recommends tzdata curl \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/minewatch
# dependencies first (cached layer), pinned by the lock file
COPY requirements.lock pyproject.toml README.md ./
COPY src ./src
COPY flows ./flows
COPY configs ./configs
RUN pip install -c requirements.lock . \
 && python -c "import minewatch, minewatch.flow.deploy; print('minewatch', minewatch.__version__)"

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin minewatch \
 && mkdir -p /data/out /data/scenes /home/minewatch/.prefect \
 && chown -R minewatch:minewatch /data /home/minewatch
USER minewatch
ENV PREFECT_HOME=/home/minewatch/.prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false

ENTRYPOINT ["minewatch"]
CMD ["--help"]
