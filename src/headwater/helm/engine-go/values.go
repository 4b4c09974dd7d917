package main

import (
	"encoding/json"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/strvals"
)

// valuesLayer is one resolved spec.valuesFrom entry: the referenced data, where it goes, and how the
// controller names it in messages ("ConfigMap chart values reference 'ns/name' with key 'values.yaml'").
type valuesLayer struct {
	Data       string `json:"data"`
	TargetPath string `json:"target_path,omitempty"`
	Literal    bool   `json:"literal,omitempty"`
	Source     string `json:"source"`
}

type valuesParams struct {
	Layers []valuesLayer  `json:"layers"`
	Values map[string]any `json:"values,omitempty"`
}

// opValues composes a HelmRelease's values as Flux does: each valuesFrom entry merged in order; an entry
// with a targetPath is set with Helm's --set parser after the inline values are merged in (so it wins
// over them); the inline values merged last. Answers the values and their config digest.
func opValues(params json.RawMessage) (any, *engineError) {
	p, err := decode[valuesParams](params)
	if err != nil {
		return nil, err
	}
	result := map[string]any{}
	for _, layer := range p.Layers {
		if layer.TargetPath != "" {
			result = mergeMaps(result, p.Values)
			if setErr := replacePathValue(result, layer.TargetPath, layer.Data, layer.Literal); setErr != nil {
				return nil, fail("ValuesInvalid", "could not resolve %s: %v", layer.Source, setErr)
			}
			continue
		}
		values, readErr := common.ReadValues([]byte(layer.Data))
		if readErr != nil {
			return nil, fail("ValuesInvalid", "could not resolve %s: failed to read values data: %v", layer.Source, readErr)
		}
		result = mergeMaps(result, values)
	}
	result = mergeMaps(result, p.Values)
	return map[string]any{"values": result, "config_digest": digestValues(result)}, nil
}

// replacePathValue sets `value` at `path` with Helm's --set parser; a quoted value stays a string
// (--set-string), a literal one is taken as it is (--set-literal).
func replacePathValue(values map[string]any, path, value string, literal bool) error {
	if literal {
		return strvals.ParseLiteralInto(path+"="+value, values)
	}
	single := strings.HasPrefix(value, "'") && strings.HasSuffix(value, "'")
	double := strings.HasPrefix(value, `"`) && strings.HasSuffix(value, `"`)
	if single || double {
		return strvals.ParseIntoString(path+"="+strings.Trim(value, `'"`), values)
	}
	return strvals.ParseInto(path+"="+value, values)
}

// mergeMaps merges b into a copy of a, recursing where both hold maps (Flux's chartutil.MergeMaps).
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for key, value := range a {
		out[key] = value
	}
	for key, value := range b {
		if nested, ok := value.(map[string]any); ok {
			if existing, ok := out[key].(map[string]any); ok {
				out[key] = mergeMaps(existing, nested)
				continue
			}
		}
		out[key] = value
	}
	return out
}
