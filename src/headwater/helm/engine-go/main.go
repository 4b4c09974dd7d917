// Command hw-helm-engine is headwater's Helm engine: the Helm v4 SDK behind a line-delimited JSON
// protocol on stdin and stdout.
//
// Why a process of its own: releases must be exactly what Helm makes (the storage Secrets, hooks, tests,
// rollbacks, waiting), so the real SDK does the work; the controller stays in Python and talks to one
// long-lived engine, which keeps discovery caches warm across releases. Each request line is
// {"id": N, "op": "...", "params": {...}}; each response line is {"id": N, "result": ...} or
// {"id": N, "error": {"kind": ..., "message": ..., "release": ...}}. Requests run concurrently; the
// caller serialises work on one release. The engine never logs values or manifests.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"

	"helm.sh/helm/v4/pkg/kube"
)

type request struct {
	ID     int64           `json:"id"`
	Op     string          `json:"op"`
	Params json.RawMessage `json:"params"`
}

// incoming is one line on stdin: a request, or the controller's answer to a callback (health.go).
type incoming struct {
	request
	CallbackReply *callbackReply `json:"callback_reply,omitempty"`
}

type response struct {
	ID     int64        `json:"id"`
	Result any          `json:"result,omitempty"`
	Error  *engineError `json:"error,omitempty"`
}

// engineError is what a failed request answers: a kind the caller maps to a condition reason, the
// SDK's message, and the release as stored when the failure left one behind (a failed install).
type engineError struct {
	Kind    string       `json:"kind"`
	Message string       `json:"message"`
	Release *releaseInfo `json:"release,omitempty"`
}

func (e *engineError) Error() string { return e.Kind + ": " + e.Message }

func fail(kind string, format string, args ...any) *engineError {
	return &engineError{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

type handler func(params json.RawMessage) (any, *engineError)

var handlers = map[string]handler{
	"version":   opVersion,
	"values":    opValues,
	"template":  opTemplate,
	"install":   opInstall,
	"upgrade":   opUpgrade,
	"rollback":  opRollback,
	"uninstall": opUninstall,
	"test":      opTest,
	"history":   opHistory,
	"get":       opGet,
	"unlock":    opUnlock,
}

func main() {
	logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// The field manager of every apply: Flux's helm-controller's, so objects move between Flux and
	// headwater without server-side apply conflicts.
	kube.ManagedFieldsManager = "helm-controller"
	if manager := os.Getenv("HW_HELM_FIELD_MANAGER"); manager != "" {
		kube.ManagedFieldsManager = manager
	}
	serve(os.Stdin, os.Stdout)
}

func serve(in io.Reader, out io.Writer) {
	var writeLock sync.Mutex
	encoder := json.NewEncoder(out)
	reply := func(r any) {
		writeLock.Lock()
		defer writeLock.Unlock()
		if err := encoder.Encode(r); err != nil {
			logger.Error("cannot write a response", "error", err.Error())
			os.Exit(2)
		}
	}
	controllerCallbacks.mu.Lock()
	controllerCallbacks.send = func(message any) error { reply(message); return nil }
	controllerCallbacks.mu.Unlock()
	scanner := bufio.NewScanner(in)
	scanner.Buffer(make([]byte, 1<<20), maxRequestBytes)
	var running sync.WaitGroup
	for scanner.Scan() {
		var line incoming
		if err := json.Unmarshal(scanner.Bytes(), &line); err != nil {
			reply(response{ID: 0, Error: fail("InvalidRequest", "request is not JSON: %v", err)})
			continue
		}
		if line.CallbackReply != nil {
			controllerCallbacks.deliver(*line.CallbackReply)
			continue
		}
		req := line.request
		running.Add(1)
		go func(req request) {
			defer running.Done()
			reply(handle(req))
		}(req)
	}
	if err := scanner.Err(); err != nil {
		logger.Error("reading requests", "error", err.Error())
	}
	running.Wait()
}

func handle(req request) (resp response) {
	resp.ID = req.ID
	defer func() {
		if recovered := recover(); recovered != nil {
			logger.Error("request panicked", "op", req.Op, "panic", fmt.Sprint(recovered), "stack", string(debug.Stack()))
			resp.Result, resp.Error = nil, fail("Internal", "the engine failed on %s: %v", req.Op, recovered)
		}
	}()
	run, ok := handlers[req.Op]
	if !ok {
		resp.Error = fail("InvalidRequest", "unknown op %q", req.Op)
		return resp
	}
	resp.Result, resp.Error = run(req.Params)
	return resp
}

// maxRequestBytes bounds one request line (values and post-renderer patches travel inline; charts
// travel as paths).
const maxRequestBytes = 64 << 20

var logger *slog.Logger

func decode[T any](params json.RawMessage) (T, *engineError) {
	var value T
	if len(params) == 0 {
		return value, nil
	}
	if err := json.Unmarshal(params, &value); err != nil {
		return value, fail("InvalidRequest", "invalid params: %v", err)
	}
	return value, nil
}
