"""The controllers' workloads: a ServiceAccount, an optional Service and a Deployment per component.

Shaped like Flux's deployments (§4.1 of the reference): the same names, `app` selector labels, ports,
probes, priority class, Prometheus annotations and restricted security context (non-root, read-only root
filesystem, no capabilities, RuntimeDefault seccomp), with writable emptyDirs at /tmp (and /data for the
artifact store). The container runs `headwater controller <name>` with Flux's default flags.
"""

from __future__ import annotations

from typing import Any

from headwater.install.options import Component, InstallOptions, component_labels

Obj = dict[str, Any]


def service_account(opts: InstallOptions, component: Component) -> Obj:
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": component.name, "namespace": opts.namespace,
                         "labels": component_labels(opts, component.name)}}


def service(opts: InstallOptions, component: Component) -> Obj | None:
    if component.service_port is None:
        return None
    labels = {**component_labels(opts, component.name), "control-plane": "controller"}
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": component.name, "namespace": opts.namespace, "labels": labels},
            "spec": {"type": "ClusterIP", "selector": {"app": component.name},
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP",
                                "targetPort": component.service_port}]}}


def controller_args(opts: InstallOptions, component: Component, notification: bool) -> list[str]:
    """`controller <name>` and Flux's default flags for it."""
    args = ["controller", component.controller]
    if notification:
        args.append(f"--events-addr=http://notification-controller.{opts.namespace}.svc.{opts.cluster_domain}./")
    args += [f"--watch-all-namespaces={str(opts.watch_all_namespaces).lower()}", f"--log-level={opts.log_level}",
             "--log-encoding=json", "--enable-leader-election", *component.extra_args]
    if component.service_port is not None:
        args.append(f"--storage-adv-addr={component.name}.$(RUNTIME_NAMESPACE).svc.{opts.cluster_domain}.")
    return args


def deployment(opts: InstallOptions, component: Component, notification: bool = False) -> Obj:
    labels = {**component_labels(opts, component.name), "control-plane": "controller"}
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[Obj] = [{"name": "tmp", "emptyDir": {}}]
    if component.data_volume:
        mounts.insert(0, {"name": "data", "mountPath": "/data"})
        volumes.insert(0, {"name": "data", "emptyDir": {}})
    container: Obj = {
        "name": "manager",
        "image": opts.image,
        "imagePullPolicy": "IfNotPresent",
        "args": controller_args(opts, component, notification),
        "env": [{"name": "RUNTIME_NAMESPACE",
                 "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
        "ports": [{"containerPort": p.number, "name": p.name, "protocol": "TCP"} for p in component.ports],
        "readinessProbe": {"httpGet": {"path": component.readiness_path, "port": component.readiness_port}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "healthz"}},
        "resources": {"limits": {"cpu": "1000m", "memory": "1Gi"},
                      "requests": {"cpu": component.cpu_request, "memory": "64Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": mounts,
    }
    pod: Obj = {
        "containers": [container],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "priorityClassName": "system-cluster-critical",
        "securityContext": {"fsGroup": 1337},
        "serviceAccountName": component.name,
        "terminationGracePeriodSeconds": component.grace_seconds,
        "volumes": volumes,
    }
    if opts.image_pull_secret:
        pod["imagePullSecrets"] = [{"name": opts.image_pull_secret}]
    if opts.toleration_keys:
        pod["tolerations"] = [{"key": key, "operator": "Exists"} for key in opts.toleration_keys]
    spec: Obj = {
        "replicas": 1,
        "selector": {"matchLabels": {"app": component.name}},
        "template": {"metadata": {"annotations": {"prometheus.io/port": "8080", "prometheus.io/scrape": "true"},
                                  "labels": {"app": component.name}},
                     "spec": pod},
    }
    if component.data_volume:
        spec["strategy"] = {"type": "Recreate"}  # one writer of the artifact store at a time
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": component.name, "namespace": opts.namespace, "labels": labels},
            "spec": spec}
