# syntax=docker/dockerfile:1
# rightsizer as a batch job: `docker build -t rightsizer .` from the repository root.
# The scheduled ECS task that runs it is in deploy/ (deploy/README.md).

# --- builder: the project and every runtime dependency as wheels --------------------------------
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Only what the wheel is built from (pyproject.toml: the package, its SQL, the readme).
COPY pyproject.toml README.md ./
COPY queries/ queries/
COPY rightsizer/ rightsizer/
# The project's runtime dependencies only: no [dev] extra, so no test or lint tools.
RUN pip wheel --wheel-dir /wheels .

# --- runtime --------------------------------------------------------------------------------------
FROM python:3.11-slim

# The task runs with a read-only root file system: /tmp is its writable scratch space.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLCONFIGDIR=/tmp/matplotlib

# Install from the builder's wheels only (no index, no compiler in this image). The wheels are
# bind-mounted from the builder, so they do not end up in a layer.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels rightsizer \
    && groupadd --system --gid 10001 rightsizer \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin rightsizer \
    && mkdir -p /data \
    && chown 10001:10001 /data

# The example configuration; environment variables RIGHTSIZER_<SECTION>_<KEY> override it
# (deploy/cloudformation/scheduled-task.yaml and deploy/terraform/ set them).
COPY deploy/rightsizer.toml /etc/rightsizer/rightsizer.toml

# uid/gid 10001: the EFS access point mounted at /data writes as this user too.
USER 10001:10001
WORKDIR /data

# No HEALTHCHECK: this is a batch job that runs to completion and exits; its health is its exit
# code (0 done, 2 configuration, 3 findings, 4 data error), which ECS records as the task's stop
# reason. A health check would only add a probe process to a container nobody routes traffic to.
ENTRYPOINT ["rightsizer"]
CMD ["run", "--config", "/etc/rightsizer/rightsizer.toml"]
