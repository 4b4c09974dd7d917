package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	ri "helm.sh/helm/v4/pkg/release"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	release "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
)

const helmVersion = "v4.2.4" // the helm.sh/helm/v4 version in go.mod; checked by the Python side

// target is what every action on a cluster names: where, as whom, which release.
type target struct {
	Kube             kubeTarget `json:"kube"`
	StorageNamespace string     `json:"storage_namespace"`
	Namespace        string     `json:"namespace"`
	ReleaseName      string     `json:"release_name"`
	TimeoutSeconds   float64    `json:"timeout_seconds,omitempty"`
}

func (t target) timeout() time.Duration {
	if t.TimeoutSeconds <= 0 {
		return 5 * time.Minute
	}
	return time.Duration(t.TimeoutSeconds * float64(time.Second))
}

// waiting is how an action waits for what it applied.
type waiting struct {
	Wait        string `json:"wait,omitempty"` // watcher (default), legacy, hookOnly (no waiting)
	WaitForJobs bool   `json:"wait_for_jobs,omitempty"`
	// HealthChecks are the group/kinds the controller judges while waiting (health.go); CallbackID
	// is the request id the controller's answers belong to.
	HealthChecks []healthKind `json:"health_checks,omitempty"`
	CallbackID   int64        `json:"callback_id,omitempty"`
}

func (w waiting) strategy() kube.WaitStrategy {
	switch w.Wait {
	case "legacy":
		return kube.LegacyStrategy
	case "hookOnly", "none":
		return kube.HookOnlyStrategy
	default:
		return kube.StatusWatcherStrategy
	}
}

// releaseParams are the inputs of install, upgrade and template.
type releaseParams struct {
	target
	waiting
	Chart                    string            `json:"chart"`
	ChartVersion             string            `json:"chart_version,omitempty"` // replaces Chart.yaml's (digest tracking)
	Values                   map[string]any    `json:"values,omitempty"`
	DisableHooks             bool              `json:"disable_hooks,omitempty"`
	DisableOpenAPIValidation bool              `json:"disable_openapi_validation,omitempty"`
	SkipSchemaValidation     bool              `json:"skip_schema_validation,omitempty"`
	CreateNamespace          bool              `json:"create_namespace,omitempty"`
	Replace                  bool              `json:"replace,omitempty"`
	CRDs                     string            `json:"crds,omitempty"` // Skip, Create (default), CreateReplace
	ServerSideApply          string            `json:"server_side_apply,omitempty"`
	ForceReplace             bool              `json:"force_replace,omitempty"`
	ForceConflicts           bool              `json:"force_conflicts,omitempty"`
	TakeOwnership            bool              `json:"take_ownership,omitempty"`
	Description              string            `json:"description,omitempty"`
	Labels                   map[string]string `json:"labels,omitempty"`
	PostRenderers            []postRenderStep  `json:"post_renderers,omitempty"`
	PostRenderStrategy       string            `json:"post_render_strategy,omitempty"`
	DryRun                   string            `json:"dry_run,omitempty"` // "", client, server
	MaxHistory               int               `json:"max_history,omitempty"`
	CleanupOnFail            bool              `json:"cleanup_on_fail,omitempty"`
	ReuseValues              bool              `json:"reuse_values,omitempty"`
	// template only: the cluster a client-side render assumes.
	KubeVersion string   `json:"kube_version,omitempty"`
	APIVersions []string `json:"api_versions,omitempty"`
	IncludeCRDs bool     `json:"include_crds,omitempty"`
}

// targeted is every params type: each embeds the target it acts on.
type targeted interface{ base() target }

func (t target) base() target { return t }

// onRelease decodes the params, sets Helm up for their target and runs the action.
func onRelease[T targeted](params json.RawMessage, run func(T, *action.Configuration) (any, *engineError)) (any, *engineError) {
	p, err := decode[T](params)
	if err != nil {
		return nil, err
	}
	cfg, err := configFor(p.base())
	if err != nil {
		return nil, err
	}
	return run(p, cfg)
}

// storageFailure names a release that is not there, or passes the storage's error on.
func storageFailure(err error, name string) *engineError {
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return fail("ReleaseNotFound", "release %q not found", name)
	}
	return fail("StorageFailed", "%v", err)
}

func configFor(t target) (*action.Configuration, *engineError) {
	if t.StorageNamespace == "" {
		t.StorageNamespace = t.Namespace
	}
	g, err := getterFor(t.Kube, t.Namespace)
	if err != nil {
		return nil, err
	}
	cfg := new(action.Configuration)
	cfg.SetLogger(logger.Handler())
	if initErr := cfg.Init(g, t.StorageNamespace, "secret"); initErr != nil {
		return nil, fail("KubeConfigInvalid", "cannot set up Helm for the cluster: %v", initErr)
	}
	if client, ok := cfg.KubeClient.(*kube.Client); ok {
		client.Namespace = t.Namespace
	}
	return cfg, nil
}

// loadReleaseChart loads the chart of a release request, with the version the controller gives it.
func loadReleaseChart(p releaseParams) (*chartv2.Chart, *engineError) {
	chart, err := loadChart(p.Chart)
	if err == nil && p.ChartVersion != "" {
		chart.Metadata.Version = p.ChartVersion
	}
	return chart, err
}

func loadChart(path string) (*chartv2.Chart, *engineError) {
	if path == "" {
		return nil, fail("InvalidRequest", "no chart given")
	}
	chart, err := loader.Load(path)
	if err != nil {
		return nil, fail("ChartLoadFailed", "the chart cannot be loaded: %v", err)
	}
	return chart, nil
}

func dryRun(mode string) (action.DryRunStrategy, *engineError) {
	switch mode {
	case "", "none":
		return action.DryRunNone, nil
	case "client":
		return action.DryRunClient, nil
	case "server":
		return action.DryRunServer, nil
	}
	return "", fail("InvalidRequest", "dry_run must be client or server, not %q", mode)
}

func postRenderStrategy(name string) action.PostRenderStrategy {
	switch name {
	case "separate":
		return action.PostRenderStrategySeparate
	case "nohooks":
		return action.PostRenderStrategyNoHooks
	case "combined":
		return action.PostRenderStrategyCombined
	}
	return ""
}

func newInstall(cfg *action.Configuration, p releaseParams, chart *chartv2.Chart) (*action.Install, *engineError) {
	mode, err := dryRun(p.DryRun)
	if err != nil {
		return nil, err
	}
	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace = p.ReleaseName, p.Namespace
	install.Timeout = p.timeout()
	install.WaitStrategy, install.WaitForJobs = p.strategy(), p.WaitForJobs
	if install.WaitOptions, err = p.waitOptions(cfg); err != nil {
		return nil, err
	}
	install.DisableHooks, install.DisableOpenAPIValidation = p.DisableHooks, p.DisableOpenAPIValidation
	install.SkipSchemaValidation, install.CreateNamespace, install.Replace = p.SkipSchemaValidation, p.CreateNamespace, p.Replace
	install.SkipCRDs = p.CRDs == "Skip"
	install.ServerSideApply = p.ServerSideApply != "false"
	install.ForceReplace, install.ForceConflicts, install.TakeOwnership = p.ForceReplace, p.ForceConflicts, p.TakeOwnership
	install.Description, install.Labels = p.Description, p.Labels
	install.DryRunStrategy = mode
	install.PostRenderStrategy = postRenderStrategy(p.PostRenderStrategy)
	if len(p.PostRenderers) > 0 {
		install.PostRenderer = &postRenderer{steps: p.PostRenderers}
	}
	return install, nil
}

func opVersion(json.RawMessage) (any, *engineError) {
	return map[string]string{"helm": helmVersion, "go": runtime.Version()}, nil
}

// opTemplate renders a chart without a cluster, as `helm template` does.
func opTemplate(params json.RawMessage) (any, *engineError) {
	p, err := decode[releaseParams](params)
	if err != nil {
		return nil, err
	}
	chart, err := loadReleaseChart(p)
	if err != nil {
		return nil, err
	}
	cfg := new(action.Configuration)
	cfg.SetLogger(logger.Handler())
	p.DryRun, p.Replace = "client", true
	install, err := newInstall(cfg, p, chart)
	if err != nil {
		return nil, err
	}
	install.IncludeCRDs = p.IncludeCRDs
	if p.KubeVersion != "" {
		version, parseErr := common.ParseKubeVersion(p.KubeVersion)
		if parseErr != nil {
			return nil, fail("InvalidRequest", "kube_version: %v", parseErr)
		}
		install.KubeVersion = version
	}
	install.APIVersions = p.APIVersions
	rel, runErr := install.RunWithContext(context.Background(), chart, values(p.Values))
	if runErr != nil {
		return nil, fail("RenderFailed", "%v", runErr)
	}
	return describeWith(rel, true)
}

func opInstall(params json.RawMessage) (any, *engineError) { return onRelease(params, install) }

func install(p releaseParams, cfg *action.Configuration) (any, *engineError) {
	chart, err := loadReleaseChart(p)
	if err != nil {
		return nil, err
	}
	install, err := newInstall(cfg, p, chart)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout()+time.Minute)
	defer cancel()
	rel, runErr := install.RunWithContext(ctx, chart, values(p.Values))
	return finish(cfg, p.ReleaseName, rel, runErr, "InstallFailed", p.DryRun != "")
}

func opUpgrade(params json.RawMessage) (any, *engineError) { return onRelease(params, upgrade) }

func upgrade(p releaseParams, cfg *action.Configuration) (any, *engineError) {
	chart, err := loadReleaseChart(p)
	if err != nil {
		return nil, err
	}
	mode, err := dryRun(p.DryRun)
	if err != nil {
		return nil, err
	}
	if p.CRDs == "CreateReplace" || p.CRDs == "Create" {
		if crdErr := applyCRDs(cfg, chart, p.CRDs == "CreateReplace", mode != action.DryRunNone); crdErr != nil {
			return nil, crdErr
		}
	}
	upgrade := action.NewUpgrade(cfg)
	upgrade.Namespace, upgrade.Timeout = p.Namespace, p.timeout()
	upgrade.WaitStrategy, upgrade.WaitForJobs = p.strategy(), p.WaitForJobs
	if upgrade.WaitOptions, err = p.waitOptions(cfg); err != nil {
		return nil, err
	}
	upgrade.DisableHooks, upgrade.DisableOpenAPIValidation = p.DisableHooks, p.DisableOpenAPIValidation
	upgrade.SkipSchemaValidation = p.SkipSchemaValidation
	upgrade.SkipCRDs = true // Helm never touches CRDs on upgrade; Create/CreateReplace are applied above
	upgrade.ServerSideApply = serverSide(p.ServerSideApply)
	upgrade.ForceReplace, upgrade.ForceConflicts, upgrade.TakeOwnership = p.ForceReplace, p.ForceConflicts, p.TakeOwnership
	upgrade.MaxHistory, upgrade.CleanupOnFail = p.MaxHistory, p.CleanupOnFail
	upgrade.ResetValues, upgrade.ReuseValues = !p.ReuseValues, p.ReuseValues
	upgrade.Description, upgrade.Labels = p.Description, p.Labels
	upgrade.DryRunStrategy = mode
	upgrade.PostRenderStrategy = postRenderStrategy(p.PostRenderStrategy)
	if len(p.PostRenderers) > 0 {
		upgrade.PostRenderer = &postRenderer{steps: p.PostRenderers}
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout()+time.Minute)
	defer cancel()
	rel, runErr := upgrade.RunWithContext(ctx, p.ReleaseName, chart, values(p.Values))
	return finish(cfg, p.ReleaseName, rel, runErr, "UpgradeFailed", mode != action.DryRunNone)
}

func serverSide(value string) string {
	switch value {
	case "true", "false":
		return value
	}
	return "auto"
}

type rollbackParams struct {
	target
	waiting
	Version         int    `json:"version,omitempty"` // 0: the previous release
	DisableHooks    bool   `json:"disable_hooks,omitempty"`
	ForceReplace    bool   `json:"force_replace,omitempty"`
	ForceConflicts  bool   `json:"force_conflicts,omitempty"`
	ServerSideApply string `json:"server_side_apply,omitempty"`
	CleanupOnFail   bool   `json:"cleanup_on_fail,omitempty"`
	MaxHistory      int    `json:"max_history,omitempty"`
}

func opRollback(params json.RawMessage) (any, *engineError) { return onRelease(params, rollback) }

func rollback(p rollbackParams, cfg *action.Configuration) (any, *engineError) {
	rollback := action.NewRollback(cfg)
	rollback.Version, rollback.Timeout = p.Version, p.timeout()
	rollback.WaitStrategy, rollback.WaitForJobs = p.strategy(), p.WaitForJobs
	var err *engineError
	if rollback.WaitOptions, err = p.waitOptions(cfg); err != nil {
		return nil, err
	}
	rollback.DisableHooks, rollback.ForceReplace, rollback.ForceConflicts = p.DisableHooks, p.ForceReplace, p.ForceConflicts
	rollback.ServerSideApply = serverSide(p.ServerSideApply)
	rollback.CleanupOnFail, rollback.MaxHistory = p.CleanupOnFail, p.MaxHistory
	runErr := rollback.Run(p.ReleaseName)
	latest, _ := cfg.Releases.Last(p.ReleaseName)
	return finish(cfg, p.ReleaseName, latest, runErr, "RollbackFailed", false)
}

type uninstallParams struct {
	target
	waiting
	DisableHooks        bool   `json:"disable_hooks,omitempty"`
	KeepHistory         bool   `json:"keep_history,omitempty"`
	DeletionPropagation string `json:"deletion_propagation,omitempty"`
	Description         string `json:"description,omitempty"`
}

func opUninstall(params json.RawMessage) (any, *engineError) { return onRelease(params, uninstall) }

func uninstall(p uninstallParams, cfg *action.Configuration) (any, *engineError) {
	uninstall := action.NewUninstall(cfg)
	uninstall.DisableHooks, uninstall.KeepHistory, uninstall.Timeout = p.DisableHooks, p.KeepHistory, p.timeout()
	uninstall.WaitStrategy = p.strategy()
	uninstall.DeletionPropagation = p.DeletionPropagation
	if uninstall.DeletionPropagation == "" {
		uninstall.DeletionPropagation = "background"
	}
	uninstall.Description = p.Description
	response, runErr := uninstall.Run(p.ReleaseName)
	if runErr != nil {
		if errors.Is(runErr, driver.ErrReleaseNotFound) {
			return nil, fail("ReleaseNotFound", "release %q not found", p.ReleaseName)
		}
		return nil, fail("UninstallFailed", "%v", runErr)
	}
	result := map[string]any{"info": response.Info}
	if response.Release != nil {
		described, describeErr := describe(response.Release)
		if describeErr != nil {
			return nil, describeErr
		}
		result["release"] = described
	}
	return result, nil
}

type testParams struct {
	target
	Filters map[string][]string `json:"filters,omitempty"`
}

func opTest(params json.RawMessage) (any, *engineError) { return onRelease(params, test) }

func test(p testParams, cfg *action.Configuration) (any, *engineError) {
	testing := action.NewReleaseTesting(cfg)
	testing.Namespace, testing.Timeout, testing.Filters = p.Namespace, p.timeout(), p.Filters
	rel, shutdown, runErr := testing.Run(p.ReleaseName)
	if shutdown != nil {
		if shutdownErr := shutdown(); shutdownErr != nil && runErr == nil {
			runErr = shutdownErr
		}
	}
	return finish(cfg, p.ReleaseName, rel, runErr, "TestFailed", false)
}

type historyParams struct {
	target
	Max int `json:"max,omitempty"`
}

func opHistory(params json.RawMessage) (any, *engineError) { return onRelease(params, history) }

func history(p historyParams, cfg *action.Configuration) (any, *engineError) {
	history := action.NewHistory(cfg)
	history.Max = p.Max
	releases, runErr := history.Run(p.ReleaseName)
	if runErr != nil {
		if errors.Is(runErr, driver.ErrReleaseNotFound) {
			return []releaseInfo{}, nil
		}
		return nil, fail("StorageFailed", "%v", runErr)
	}
	described := make([]releaseInfo, 0, len(releases))
	for _, r := range releases {
		info, describeErr := describe(r)
		if describeErr != nil {
			return nil, describeErr
		}
		described = append(described, *info)
	}
	return described, nil
}

type getParams struct {
	target
	Version int `json:"version,omitempty"` // 0: the latest
}

func opGet(params json.RawMessage) (any, *engineError) { return onRelease(params, get) }

func get(p getParams, cfg *action.Configuration) (any, *engineError) {
	var rel ri.Releaser
	var getErr error
	if p.Version > 0 {
		rel, getErr = cfg.Releases.Get(p.ReleaseName, p.Version)
	} else {
		rel, getErr = cfg.Releases.Last(p.ReleaseName)
	}
	if getErr != nil {
		return nil, storageFailure(getErr, p.ReleaseName)
	}
	return describeWith(rel, true)
}

// opUnlock marks a release stuck in a pending state (its controller died mid-action) as failed, so the
// next action may proceed, as Flux does for a stale lock.
func opUnlock(params json.RawMessage) (any, *engineError) { return onRelease(params, unlock) }

func unlock(p target, cfg *action.Configuration) (any, *engineError) {
	last, getErr := cfg.Releases.Last(p.ReleaseName)
	if getErr != nil {
		return nil, storageFailure(getErr, p.ReleaseName)
	}
	rel, ok := last.(*release.Release)
	if !ok {
		return nil, fail("Internal", "unexpected release type %T", last)
	}
	if rel.Info != nil && rel.Info.Status.IsPending() {
		previous := rel.Info.Status
		rel.Info.Status = rcommon.StatusFailed
		rel.Info.Description = fmt.Sprintf("Release unlocked from stale '%s' state", previous)
		if updateErr := cfg.Releases.Update(rel); updateErr != nil {
			return nil, fail("StorageFailed", "%v", updateErr)
		}
	}
	return describe(rel)
}

// finish answers an action: the release it produced, or the error with the release it left behind.
func finish(cfg *action.Configuration, name string, rel ri.Releaser, runErr error, kind string, dry bool) (any, *engineError) {
	if runErr == nil {
		return describeWith(rel, dry)
	}
	failure := fail(kind, "%v", runErr)
	if errors.Is(runErr, driver.ErrReleaseNotFound) || errors.Is(runErr, driver.ErrNoDeployedReleases) {
		failure.Kind = "ReleaseNotFound"
	}
	if strings.Contains(runErr.Error(), "another operation (install/upgrade/rollback) is in progress") {
		failure.Kind = "ReleaseLocked"
	}
	if rel == nil && cfg != nil && cfg.Releases != nil && name != "" {
		rel, _ = cfg.Releases.Last(name)
	}
	if rel != nil {
		if described, err := describe(rel); err == nil {
			failure.Release = described
		}
	}
	return nil, failure
}

func values(v map[string]any) map[string]any {
	if v == nil {
		return map[string]any{}
	}
	return v
}
