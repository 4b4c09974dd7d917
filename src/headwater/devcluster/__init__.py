"""A real Kubernetes control plane on this machine, for tests and the demo.

headwater is tested against real components, never a fake API server: etcd, kube-apiserver,
kube-controller-manager and kube-scheduler built from their Go modules, and kwok for fake nodes so that
Deployments really become Available. `build` makes and caches the binaries, `cluster` runs them.
"""

