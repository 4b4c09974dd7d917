package main

// Custom health checks (a HelmRelease's spec.healthCheckExprs) while Helm waits for a release.
//
// Why a callback and not CEL in this process: the expressions are evaluated by the controller with
// headwater's one CEL engine (the Python module headwater.apply.cel_health, which Kustomizations use
// too), so both kinds of object judge a custom resource the same way. The wait itself stays Helm's:
// Helm's status watcher asks the reader below for the status of every object of a covered group/kind,
// the reader sends the object to the controller as a callback line on stdout and waits for the
// answer on stdin. A Failed answer ends the wait with Helm's own "not ready" error, so Helm marks the
// release failed and the controller's remediation applies exactly as for any failed wait.

import (
	"fmt"
	"sync"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/engine"
	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/statusreaders"
	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// healthKind is a group/kind the controller judges; an empty kind covers the whole group.
type healthKind struct {
	Group string `json:"group"`
	Kind  string `json:"kind,omitempty"`
}

// callbackRequest is what the engine asks the controller: the status of one object, on behalf of
// the request (its id) whose wait needs it.
type callbackRequest struct {
	ID      int64          `json:"id"`
	Request int64          `json:"request"`
	Object  map[string]any `json:"object"`
}

// callbackReply is the controller's answer: a kstatus status and its message.
type callbackReply struct {
	ID      int64  `json:"id"`
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// callbackTimeout bounds one answer; a controller that does not answer makes the object Unknown
// (the wait goes on until Helm's timeout), never a hang.
const callbackTimeout = 30 * time.Second

type callbacks struct {
	mu      sync.Mutex
	next    int64
	pending map[int64]chan callbackReply
	send    func(message any) error
}

var controllerCallbacks = &callbacks{pending: map[int64]chan callbackReply{}}

func (c *callbacks) ask(request int64, obj map[string]any) (callbackReply, error) {
	c.mu.Lock()
	c.next++
	id, answer, send := c.next, make(chan callbackReply, 1), c.send
	c.pending[id] = answer
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	if send == nil {
		return callbackReply{}, fmt.Errorf("no controller to evaluate health checks")
	}
	if err := send(map[string]any{"callback": callbackRequest{ID: id, Request: request, Object: obj}}); err != nil {
		return callbackReply{}, err
	}
	select {
	case reply := <-answer:
		return reply, nil
	case <-time.After(callbackTimeout):
		return callbackReply{}, fmt.Errorf("the controller did not evaluate the health checks within %s", callbackTimeout)
	}
}

func (c *callbacks) deliver(reply callbackReply) {
	c.mu.Lock()
	answer := c.pending[reply.ID]
	c.mu.Unlock()
	if answer != nil {
		select {
		case answer <- reply:
		default:
		}
	}
}

var knownStatuses = map[string]status.Status{
	"InProgress": status.InProgressStatus, "Failed": status.FailedStatus, "Current": status.CurrentStatus,
	"Terminating": status.TerminatingStatus, "NotFound": status.NotFoundStatus, "Unknown": status.UnknownStatus,
}

// customHealthReader is a kstatus reader for the covered kinds, taking precedence over kstatus.
type customHealthReader struct {
	engine.StatusReader
	kinds []healthKind
}

func (r *customHealthReader) Supports(gk schema.GroupKind) bool {
	for _, k := range r.kinds {
		if k.Group == gk.Group && (k.Kind == "" || k.Kind == gk.Kind) {
			return true
		}
	}
	return false
}

func (r *customHealthReader) evaluate(request int64) statusreaders.StatusFunc {
	return func(obj *unstructured.Unstructured) (*status.Result, error) {
		reply, err := controllerCallbacks.ask(request, obj.Object)
		if err != nil {
			return nil, err
		}
		value, ok := knownStatuses[reply.Status]
		if !ok {
			return nil, fmt.Errorf("the controller answered an unknown status %q", reply.Status)
		}
		return &status.Result{Status: value, Message: reply.Message}, nil
	}
}

// waitOptions are the options of a watcher wait: the custom health reader when the request names
// kinds to judge (Flux evaluates healthCheckExprs only with the poller strategy and waiting enabled).
func (w waiting) waitOptions(cfg *action.Configuration) ([]kube.WaitOption, *engineError) {
	if len(w.HealthChecks) == 0 || w.strategy() != kube.StatusWatcherStrategy {
		return nil, nil
	}
	if cfg.RESTClientGetter == nil {
		return nil, fail("Internal", "no cluster client for the health checks")
	}
	mapper, err := cfg.RESTClientGetter.ToRESTMapper()
	if err != nil {
		return nil, fail("KubeConfigInvalid", "cannot map kinds for the health checks: %v", err)
	}
	reader := &customHealthReader{kinds: w.HealthChecks}
	reader.StatusReader = statusreaders.NewGenericStatusReader(mapper, reader.evaluate(w.CallbackID))
	return []kube.WaitOption{kube.WithKStatusReaders(reader)}, nil
}
