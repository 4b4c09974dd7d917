package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// kubeTarget says which cluster and identity an action uses: a kubeconfig (its content, never a
// path the request could point anywhere), or the engine's in-cluster identity when empty; optional
// impersonation (a tenant's ServiceAccount) and client-side rate limits.
type kubeTarget struct {
	Kubeconfig  string   `json:"kubeconfig,omitempty"`
	Context     string   `json:"context,omitempty"`
	Impersonate string   `json:"impersonate,omitempty"`
	Groups      []string `json:"impersonate_groups,omitempty"`
	QPS         float32  `json:"qps,omitempty"`
	Burst       int      `json:"burst,omitempty"`
	// Fresh asks for a client of this request's own (spec.persistentClient: false): discovery is read
	// anew instead of being shared with the other actions on the same target.
	Fresh bool `json:"fresh,omitempty"`
}

func (t kubeTarget) key() string {
	raw, _ := json.Marshal(t)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// getter is a RESTClientGetter over one rest.Config with discovery cached in memory, shared by every
// action on the same target (discovery is the costly part of starting an action).
type getter struct {
	config    *rest.Config
	raw       clientcmdapi.Config
	context   string
	namespace string

	once      sync.Once
	discovery discovery.CachedDiscoveryInterface
	mapper    meta.RESTMapper
	err       error
}

var (
	gettersLock sync.Mutex
	getters     = map[string]*getter{}
)

// getterFor returns the shared getter of `target`, bound to `namespace` (a shallow copy sharing caches).
func getterFor(target kubeTarget, namespace string) (*getter, *engineError) {
	if target.Fresh {
		own, err := newGetter(target)
		if err != nil {
			return nil, err
		}
		if initErr := own.init(); initErr != nil {
			return nil, fail("KubeConfigInvalid", "cannot reach the cluster: %v", initErr)
		}
		own.namespace = namespace
		return own, nil
	}
	gettersLock.Lock()
	shared, ok := getters[target.key()]
	gettersLock.Unlock()
	if !ok {
		built, err := newGetter(target)
		if err != nil {
			return nil, err
		}
		gettersLock.Lock()
		if existing, raced := getters[target.key()]; raced {
			built = existing
		} else {
			getters[target.key()] = built
		}
		gettersLock.Unlock()
		shared = built
	}
	if err := shared.init(); err != nil {
		return nil, fail("KubeConfigInvalid", "cannot reach the cluster: %v", err)
	}
	bound := &getter{config: shared.config, raw: shared.raw, context: shared.context, namespace: namespace,
		discovery: shared.discovery, mapper: shared.mapper}
	bound.once.Do(func() {})
	return bound, nil
}

func newGetter(target kubeTarget) (*getter, *engineError) {
	var config *rest.Config
	var raw clientcmdapi.Config
	if target.Kubeconfig == "" {
		inCluster, err := rest.InClusterConfig()
		if err != nil {
			return nil, fail("KubeConfigInvalid", "no kubeconfig given and not running in a cluster: %v", err)
		}
		config = inCluster
		raw = *clientcmdapi.NewConfig()
	} else {
		loaded, err := clientcmd.Load([]byte(target.Kubeconfig))
		if err != nil {
			return nil, fail("KubeConfigInvalid", "the kubeconfig cannot be read: %v", err)
		}
		overrides := &clientcmd.ConfigOverrides{CurrentContext: target.Context}
		config, err = clientcmd.NewDefaultClientConfig(*loaded, overrides).ClientConfig()
		if err != nil {
			return nil, fail("KubeConfigInvalid", "the kubeconfig cannot be used: %v", err)
		}
		raw = *loaded
	}
	config = rest.CopyConfig(config)
	if target.Impersonate != "" {
		config.Impersonate = rest.ImpersonationConfig{UserName: target.Impersonate, Groups: target.Groups}
	}
	config.QPS, config.Burst = 50, 300
	if target.QPS > 0 {
		config.QPS = target.QPS
	}
	if target.Burst > 0 {
		config.Burst = target.Burst
	}
	config.UserAgent = "headwater-helm-engine"
	return &getter{config: config, raw: raw, context: target.Context}, nil
}

func (g *getter) init() error {
	g.once.Do(func() {
		client, err := discovery.NewDiscoveryClientForConfig(g.config)
		if err != nil {
			g.err = err
			return
		}
		g.discovery = memory.NewMemCacheClient(client)
		deferred := restmapper.NewDeferredDiscoveryRESTMapper(g.discovery)
		g.mapper = &refreshingMapper{RESTMapper: restmapper.NewShortcutExpander(deferred, g.discovery, nil),
			deferred: deferred}
	})
	return g.err
}

func (g *getter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.config), nil }

func (g *getter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.discovery, nil
}

func (g *getter) ToRESTMapper() (meta.RESTMapper, error) { return g.mapper, nil }

func (g *getter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	overrides := &clientcmd.ConfigOverrides{CurrentContext: g.context,
		Context: clientcmdapi.Context{Namespace: g.namespace}}
	return clientcmd.NewDefaultClientConfig(g.raw, overrides)
}

// refreshingMapper is the REST mapper of a shared getter: a kind it does not know makes it read
// discovery again once before it answers "no match". Why: the getter lives as long as the engine, and
// the deferred mapper below keeps the mapping it built first even when Helm invalidates the discovery
// cache before each action, so a CRD created later (by another release, a Kustomization, anyone) would
// stay unknown and every release with its objects would fail "no matches for kind" until a restart.
// Flux builds its client per reconcile and so never keeps a mapping that long.
type refreshingMapper struct {
	meta.RESTMapper
	deferred *restmapper.DeferredDiscoveryRESTMapper
}

func retryOnNoMatch[T any](m *refreshingMapper, lookup func() (T, error)) (T, error) {
	found, err := lookup()
	if err != nil && meta.IsNoMatchError(err) {
		m.deferred.Reset()
		found, err = lookup()
	}
	return found, err
}

func (m *refreshingMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	return retryOnNoMatch(m, func() (*meta.RESTMapping, error) { return m.RESTMapper.RESTMapping(gk, versions...) })
}

func (m *refreshingMapper) RESTMappings(gk schema.GroupKind, versions ...string) ([]*meta.RESTMapping, error) {
	return retryOnNoMatch(m, func() ([]*meta.RESTMapping, error) { return m.RESTMapper.RESTMappings(gk, versions...) })
}

func (m *refreshingMapper) KindFor(resource schema.GroupVersionResource) (schema.GroupVersionKind, error) {
	return retryOnNoMatch(m, func() (schema.GroupVersionKind, error) { return m.RESTMapper.KindFor(resource) })
}

func (m *refreshingMapper) ResourceFor(input schema.GroupVersionResource) (schema.GroupVersionResource, error) {
	return retryOnNoMatch(m, func() (schema.GroupVersionResource, error) { return m.RESTMapper.ResourceFor(input) })
}

// forgetDiscovery drops cached discovery of every target (after CRDs were installed, say).
func forgetDiscovery() {
	gettersLock.Lock()
	defer gettersLock.Unlock()
	for _, shared := range getters {
		if shared.discovery != nil {
			shared.discovery.Invalidate()
		}
	}
}
