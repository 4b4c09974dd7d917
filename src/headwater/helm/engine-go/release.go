package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	ri "helm.sh/helm/v4/pkg/release"
	release "helm.sh/helm/v4/pkg/release/v1"
	"sigs.k8s.io/yaml"
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
		Digest: digestJSON(rel), ConfigDigest: digestValues(rel.Config), Hooks: []hookInfo{}}
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

// digestJSON is the sha256 of the release as Go's JSON encoder writes it (one line, as json.Encoder).
func digestJSON(rel *release.Release) string {
	raw, err := json.Marshal(rel)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(append(raw, '\n'))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// digestValues is the sha256 of the values as YAML (keys sorted), empty values digesting the empty text.
func digestValues(values map[string]any) string {
	var raw []byte
	if len(values) > 0 {
		encoded, err := yaml.Marshal(values)
		if err != nil {
			return ""
		}
		raw = encoded
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}
