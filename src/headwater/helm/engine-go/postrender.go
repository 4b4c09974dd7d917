package main

import (
	"bytes"
	"fmt"

	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// postRenderStep is one post-rendering pass, applied in the order the controller lists them (Flux's
// order: commonMetadata, each spec.postRenderers entry, then the origin labels).
type postRenderStep struct {
	// Kustomize is a HelmRelease postRenderers[].kustomize: patches and images.
	Kustomize *kustomizeStep `json:"kustomize,omitempty"`
	// Metadata sets labels and annotations on every object's own metadata (never on selectors or
	// pod templates).
	Metadata *metadataStep `json:"metadata,omitempty"`
}

type kustomizeStep struct {
	Patches []kustypes.Patch `json:"patches,omitempty"`
	Images  []kustypes.Image `json:"images,omitempty"`
}

type metadataStep struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// postRenderer runs the steps with kustomize's engine on an in-memory file system: nothing but the
// rendered manifests and the generated kustomization exists there, so a patch cannot reach a file.
type postRenderer struct {
	steps []postRenderStep
}

func (p *postRenderer) Run(rendered *bytes.Buffer) (*bytes.Buffer, error) {
	current := rendered.Bytes()
	for index, step := range p.steps {
		out, err := runStep(current, step)
		if err != nil {
			return nil, fmt.Errorf("post-renderer %d: %w", index, err)
		}
		current = out
	}
	return bytes.NewBuffer(current), nil
}

const (
	workDir       = "/render"
	manifestsFile = "manifests.yaml"
)

func runStep(manifests []byte, step postRenderStep) ([]byte, error) {
	fs := filesys.MakeFsInMemory()
	if err := fs.MkdirAll(workDir); err != nil {
		return nil, err
	}
	if err := fs.WriteFile(workDir+"/"+manifestsFile, manifests); err != nil {
		return nil, err
	}
	kustomization := kustypes.Kustomization{
		TypeMeta:  kustypes.TypeMeta{APIVersion: kustypes.KustomizationVersion, Kind: kustypes.KustomizationKind},
		Resources: []string{manifestsFile},
	}
	if step.Kustomize != nil {
		for _, patch := range step.Kustomize.Patches {
			if patch.Path != "" {
				return nil, fmt.Errorf("patches[].path is not supported: give the patch inline")
			}
		}
		kustomization.Patches, kustomization.Images = step.Kustomize.Patches, step.Kustomize.Images
	}
	if step.Metadata != nil {
		configs, err := metadataTransformers(fs, step.Metadata)
		if err != nil {
			return nil, err
		}
		kustomization.Transformers = configs
	}
	raw, err := yaml.Marshal(kustomization)
	if err != nil {
		return nil, err
	}
	if err := fs.WriteFile(workDir+"/kustomization.yaml", raw); err != nil {
		return nil, err
	}
	options := krusty.MakeDefaultOptions()
	resources, err := krusty.MakeKustomizer(options).Run(fs, workDir)
	if err != nil {
		return nil, err
	}
	return resources.AsYaml()
}

// metadataTransformers writes builtin label and annotation transformers limited to metadata.
func metadataTransformers(fs filesys.FileSystem, step *metadataStep) ([]string, error) {
	var files []string
	write := func(name string, doc map[string]any) error {
		raw, err := yaml.Marshal(doc)
		if err != nil {
			return err
		}
		files = append(files, name)
		return fs.WriteFile(workDir+"/"+name, raw)
	}
	if len(step.Labels) > 0 {
		if err := write("labels.yaml", map[string]any{
			"apiVersion": "builtin", "kind": "LabelTransformer", "metadata": map[string]any{"name": "labels"},
			"labels": step.Labels, "fieldSpecs": []any{map[string]any{"path": "metadata/labels", "create": true}},
		}); err != nil {
			return nil, err
		}
	}
	if len(step.Annotations) > 0 {
		if err := write("annotations.yaml", map[string]any{
			"apiVersion": "builtin", "kind": "AnnotationsTransformer", "metadata": map[string]any{"name": "annotations"},
			"annotations": step.Annotations,
			"fieldSpecs":  []any{map[string]any{"path": "metadata/annotations", "create": true}},
		}); err != nil {
			return nil, err
		}
	}
	return files, nil
}
