package main

import (
	"bytes"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"helm.sh/helm/v4/pkg/action"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
)

// applyCRDs applies the chart's crds/ directory before an upgrade, which Helm itself never does:
// missing CRDs are created, and with `replace` (Flux's CreateReplace) existing ones are updated too.
// CRDs are never deleted.
func applyCRDs(cfg *action.Configuration, chart *chartv2.Chart, replace, dry bool) *engineError {
	applied := 0
	for _, crd := range chart.CRDObjects() {
		if crd.File == nil || len(crd.File.Data) == 0 {
			return fail("CRDApplyFailed", "CRD file %s is empty", crd.Filename)
		}
		resources, err := cfg.KubeClient.Build(bytes.NewBuffer(crd.File.Data), false)
		if err != nil {
			return fail("CRDApplyFailed", "CRD file %s cannot be read: %v", crd.Filename, err)
		}
		var pending kube.ResourceList
		for _, info := range resources {
			if getErr := info.Get(); getErr == nil && !replace {
				continue // Create: an existing CRD is left as it is
			} else if getErr != nil && !apierrors.IsNotFound(getErr) {
				return fail("CRDApplyFailed", "CRD %s: %v", info.Name, getErr)
			}
			pending = append(pending, info)
		}
		if len(pending) == 0 {
			continue
		}
		if _, err := cfg.KubeClient.Create(pending, kube.ClientCreateOptionServerSideApply(true, true),
			kube.ClientCreateOptionDryRun(dry)); err != nil {
			return fail("CRDApplyFailed", "CRD file %s: %v", crd.Filename, err)
		}
		applied += len(pending)
	}
	if applied > 0 && !dry {
		forgetDiscovery()
	}
	return nil
}
