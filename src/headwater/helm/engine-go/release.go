package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	ri "helm.sh/helm/v4/pkg/release"
	release "helm.sh/helm/v4/pkg/release/v1"
	"sigs.k8s.io/yaml"
	goyaml "sigs.k8s.io/yaml/goyaml.v2"
)

// releaseInfo is what the controller learns of a stored release: enough for status.history, drift
// detection and the CLI. Manifest, hooks' manifests and values only when asked (they may hold secrets:
// the controller never logs them).
type releaseInfo struct {
	Name          string         `json:"name"`
	Namespace     string         `json:"namespace"`
	Version       int            `json:"version"`
	Status        string         `json:"status"`
	Description   string         `json:"description,omitempty"`
	ChartName     string         `json:"chart_name,omitempty"`
	ChartVersion  string         `json:"chart_version,omitempty"`
	AppVersion    string         `json:"app_version,omitempty"`
	FirstDeployed string         `json:"first_deployed,omitempty"`
	LastDeployed  string         `json:"last_deployed,omitempty"`
	Deleted       string         `json:"deleted,omitempty"`
	Notes         string         `json:"notes,omitempty"`
	ApplyMethod   string         `json:"apply_method,omitempty"`
	Digest        string         `json:"digest"`
	ConfigDigest  string         `json:"config_digest"`
	Hooks         []hookInfo     `json:"hooks"`
	Manifest      string         `json:"manifest,omitempty"`
	Config        map[string]any `json:"config,omitempty"`
}

type hookInfo struct {
	Name        string   `json:"name"`
	Kind        string   `json:"kind"`
	Path        string   `json:"path"`
	Events      []string `json:"events"`
	Phase       string   `json:"phase,omitempty"`
	StartedAt   string   `json:"started_at,omitempty"`
	CompletedAt string   `json:"completed_at,omitempty"`
	Manifest    string   `json:"manifest,omitempty"`
}

func describe(r ri.Releaser) (*releaseInfo, *engineError) { return describeWith(r, false) }

func describeWith(r ri.Releaser, full bool) (*releaseInfo, *engineError) {
	rel, ok := r.(*release.Release)
	if !ok || rel == nil {
		return nil, fail("Internal", "unexpected release type %T", r)
	}
	info := &releaseInfo{Name: rel.Name, Namespace: rel.Namespace, Version: rel.Version, ApplyMethod: rel.ApplyMethod,
		Digest: observationDigest(rel, ""), ConfigDigest: digestValues(rel.Config), Hooks: []hookInfo{}}
	if rel.Info != nil {
		info.Status, info.Description, info.Notes = rel.Info.Status.String(), rel.Info.Description, rel.Info.Notes
		info.FirstDeployed, info.LastDeployed = stamp(rel.Info.FirstDeployed), stamp(rel.Info.LastDeployed)
		info.Deleted = stamp(rel.Info.Deleted)
	}
	if rel.Chart != nil && rel.Chart.Metadata != nil {
		info.ChartName, info.ChartVersion = rel.Chart.Metadata.Name, rel.Chart.Metadata.Version
		info.AppVersion = rel.Chart.Metadata.AppVersion
	}
	for _, hook := range rel.Hooks {
		events := make([]string, 0, len(hook.Events))
		for _, event := range hook.Events {
			events = append(events, string(event))
		}
		entry := hookInfo{Name: hook.Name, Kind: hook.Kind, Path: hook.Path, Events: events,
			Phase: string(hook.LastRun.Phase), StartedAt: stamp(hook.LastRun.StartedAt),
			CompletedAt: stamp(hook.LastRun.CompletedAt)}
		if full {
			entry.Manifest = hook.Manifest
		}
		info.Hooks = append(info.Hooks, entry)
	}
	if full {
		info.Manifest, info.Config = rel.Manifest, rel.Config
	}
	return info, nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// observation is Flux's digest input for a release (helm-controller's release.Observation): the release
// without chart files, test hooks left out so a manual `helm test` does not change it.
type observation struct {
	Name          string           `json:"name"`
	Version       int              `json:"version"`
	Info          release.Info     `json:"info"`
	ChartMetadata chartv2.Metadata `json:"chartMetadata"`
	Config        map[string]any   `json:"config"`
	Manifest      string           `json:"manifest"`
	Hooks         []release.Hook   `json:"hooks"`
	Namespace     string           `json:"namespace"`
	OCIDigest     string           `json:"ociDigest"`
}

// observationDigest is the snapshot digest Flux records in status.history: sha256 over the JSON encoding
// of the observation (as json.Encoder writes it, newline included).
func observationDigest(rel *release.Release, ociDigest string) string {
	observed := observation{Name: rel.Name, Version: rel.Version, Manifest: rel.Manifest, Namespace: rel.Namespace,
		OCIDigest: ociDigest}
	if rel.Info != nil {
		observed.Info = *rel.Info
	}
	if rel.Chart != nil && rel.Chart.Metadata != nil {
		observed.ChartMetadata = *rel.Chart.Metadata
	}
	if len(rel.Config) > 0 {
		observed.Config = rel.Config
	}
	for _, hook := range rel.Hooks {
		if hook != nil && !isTestHook(hook) {
			observed.Hooks = append(observed.Hooks, *hook)
		}
	}
	var buffer bytes.Buffer
	if err := json.NewEncoder(&buffer).Encode(observed); err != nil {
		return ""
	}
	sum := sha256.Sum256(buffer.Bytes())
	return "sha256:" + hex.EncodeToString(sum[:])
}

func isTestHook(hook *release.Hook) bool {
	for _, event := range hook.Events {
		if event == release.HookTest {
			return true
		}
	}
	return false
}

// digestValues is Flux's config digest (fluxcd/pkg chartutil.DigestValues): sha256 over the values as
// go-yaml v2 writes them with every map's keys sorted; empty values digest the empty text.
func digestValues(values map[string]any) string {
	digester := sha256.New()
	if len(values) > 0 {
		slice := yaml.JSONObjectToYAMLObject(values)
		sortMapSlice(slice)
		if err := goyaml.NewEncoder(digester).Encode(slice); err != nil {
			return ""
		}
	}
	return "sha256:" + hex.EncodeToString(digester.Sum(nil))
}

// sortMapSlice sorts by key, recursing into maps and into maps directly inside lists (as Flux does).
func sortMapSlice(slice goyaml.MapSlice) {
	sort.Slice(slice, func(i, j int) bool { return fmt.Sprint(slice[i].Key) < fmt.Sprint(slice[j].Key) })
	for _, item := range slice {
		switch value := item.Value.(type) {
		case goyaml.MapSlice:
			sortMapSlice(value)
		case []any:
			for _, element := range value {
				if nested, ok := element.(goyaml.MapSlice); ok {
					sortMapSlice(nested)
				}
			}
		}
	}
}
