"""The example fleet repository the demo bootstraps: what a small real GitOps repository looks like.

Layout (the one Flux's guides use): `clusters/<cluster>/` is the bootstrap path (bootstrap adds
`flux-system/` there) and holds one Kustomization per layer; `infrastructure/` is applied first (a
namespace and shared settings); `apps/` depends on it and runs one Deployment (with a Service) per app.
Both layers `wait`, so `apps` turns Ready only when its Deployments are Available.
"""

from __future__ import annotations

APPS_NAMESPACE = "shop"
APPS = ("frontend", "backend")
LAYERS = ("infrastructure", "apps")
EDIT_HINT_FILE = "apps/frontend/deployment.yaml"


def _layer(name: str, cluster: str, depends_on: str | None) -> str:
    depends = f"  dependsOn:\n    - name: {depends_on}\n" if depends_on else ""
    return (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\n"
        "kind: Kustomization\n"
        "metadata:\n"
        f"  name: {name}\n"
        "  namespace: flux-system\n"
        "spec:\n"
        f"{depends}"
        "  interval: 10m\n"
        "  retryInterval: 30s\n"
        "  timeout: 2m\n"
        f"  path: ./{name}\n"
        "  prune: true\n"
        "  wait: true\n"
        "  sourceRef:\n"
        "    kind: GitRepository\n"
        "    name: flux-system\n"
    )


def _deployment(app: str, replicas: int, version: str) -> str:
    return (
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        f"  name: {app}\n"
        f"  namespace: {APPS_NAMESPACE}\n"
        "spec:\n"
        f"  replicas: {replicas}\n"
        "  selector:\n"
        "    matchLabels:\n"
        f"      app: {app}\n"
        "  template:\n"
        "    metadata:\n"
        "      labels:\n"
        f"        app: {app}\n"
        "    spec:\n"
        "      containers:\n"
        f"        - name: {app}\n"
        f"          image: ghcr.io/stefanprodan/podinfo:{version}\n"
        "          ports:\n"
        "            - name: http\n"
        "              containerPort: 9898\n"
        "          envFrom:\n"
        "            - configMapRef:\n"
        "                name: platform-settings\n"
    )


def _service(app: str) -> str:
    return (
        "apiVersion: v1\n"
        "kind: Service\n"
        "metadata:\n"
        f"  name: {app}\n"
        f"  namespace: {APPS_NAMESPACE}\n"
        "spec:\n"
        "  selector:\n"
        f"    app: {app}\n"
        "  ports:\n"
        "    - name: http\n"
        "      port: 80\n"
        "      targetPort: http\n"
    )


def files(cluster: str = "demo") -> dict[str, str]:
    """Path → content of the repository's first commit (before bootstrap adds `flux-system/`)."""
    content = {
        "README.md": (
            "# fleet\n\nThe example repository of the headwater demo.\n\n"
            f"- `clusters/{cluster}/`: what the cluster syncs (bootstrap wrote `flux-system/` here)\n"
            "- `infrastructure/`: the namespace and shared settings, applied first\n"
            "- `apps/`: one Deployment and Service per app, applied once infrastructure is Ready\n"
        ),
        f"clusters/{cluster}/infrastructure.yaml": _layer("infrastructure", cluster, None),
        f"clusters/{cluster}/apps.yaml": _layer("apps", cluster, "infrastructure"),
        "infrastructure/namespace.yaml": (
            f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {APPS_NAMESPACE}\n"
        ),
        "infrastructure/settings.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: platform-settings\n"
            f"  namespace: {APPS_NAMESPACE}\ndata:\n  PODINFO_UI_MESSAGE: hello from headwater\n"
        ),
        "apps/kustomization.yaml": (
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
            + "".join(f"  - {app}\n" for app in APPS)
        ),
    }
    for app, replicas in zip(APPS, (2, 1), strict=True):
        content[f"apps/{app}/kustomization.yaml"] = (
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
            "  - deployment.yaml\n  - service.yaml\n"
        )
        content[f"apps/{app}/deployment.yaml"] = _deployment(app, replicas, "6.7.0")
        content[f"apps/{app}/service.yaml"] = _service(app)
    return content
