"""Charts the Helm tests make at test time (no chart is checked in: each test writes what it needs)."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_chart(root: Path, version: str = "0.1.0") -> Path:
    """A small chart: a ConfigMap from values and a Deployment kwok makes Available."""
    chart = root / "greeter"
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: greeter\nversion: {version}\nappVersion: '1.0'\n")
    (chart / "values.yaml").write_text("greeting: hello\nreplicas: 1\n")
    (chart / "templates" / "config.yaml").write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Release.Name }}-config
        data:
          greeting: {{ .Values.greeting | quote }}
        """))
    (chart / "templates" / "deployment.yaml").write_text(textwrap.dedent("""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ .Release.Name }}
        spec:
          replicas: {{ .Values.replicas }}
          selector:
            matchLabels: {app: {{ .Release.Name }}}
          template:
            metadata:
              labels: {app: {{ .Release.Name }}}
            spec:
              containers:
              - name: app
                image: registry.example/greeter:1.0
        """))
    return chart


def write_hooked_chart(root: Path, version: str = "0.1.0") -> Path:
    """`write_chart` plus a pre-install hook Job (it must complete before the release's objects are applied)
    and a test hook Job (`helm test`); kwok completes Pods a Job owns, and runs the Deployment's."""
    chart = write_chart(root, version)
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: hooked\nversion: {version}\nappVersion: '1.0'\n")
    for name, hook in (("migrate", "pre-install"), ("smoke", "test")):
        (chart / "templates" / f"{name}.yaml").write_text(textwrap.dedent(f"""\
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: {{{{ .Release.Name }}}}-{name}
              annotations:
                helm.sh/hook: {hook}
                helm.sh/hook-delete-policy: before-hook-creation
            spec:
              template:
                spec:
                  restartPolicy: Never
                  containers:
                  - name: {name}
                    image: registry.example/{name}:1.0
            """))
    return chart


def add_database(chart: Path, group: str) -> None:
    """A `Database` object of `group` in the chart, its `status.phase` from the value `phase`."""
    (chart / "templates" / "database.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: {group}/v1
        kind: Database
        metadata:
          name: {{{{ .Release.Name }}}}-db
        spec:
          engine: postgres
        status:
          phase: {{{{ .Values.phase | quote }}}}
        """))
