package app

import (
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/authsvc/authsvc/config"
	"github.com/authsvc/authsvc/server"
)

// gatherAll builds the quickstart's service with a proxy, the gateway and
// brute-force protection added, and gathers its metrics before any request.
func gatherAll(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "examples", "quickstart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	users, _ := os.ReadFile(filepath.Join("..", "examples", "quickstart-users.yaml"))
	os.WriteFile(filepath.Join(dir, "quickstart-users.yaml"), users, 0o600)
	doc := string(raw) + "proxy: {upstream: http://127.0.0.1:9}\ngateway: {enabled: true}\nbrute_force: {store: memory}\n"
	os.WriteFile(filepath.Join(dir, "authsvc.yaml"), []byte(doc), 0o600)
	cfg, err := config.Load(filepath.Join(dir, "authsvc.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	rt, err := cfg.Build(logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	opts, err := serverOptions(cfg, rt, logger)
	if err != nil {
		t.Fatal(err)
	}
	lo, closeLockout, err := lockoutOptions(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeLockout)
	opts.Lockout = lo
	if _, err := server.New(opts); err != nil {
		t.Fatal(err)
	}
	mfs, err := opts.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// readmeMetrics returns the metrics README.md's Metrics table lists, with
// their labels.
func readmeMetrics(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n### Metrics\n")
	if !ok {
		t.Fatal("README.md has no ### Metrics section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `(authsvc_[a-z_]+)(?:\\{([a-z_,]+)\\})?` \\|")
	out := map[string][]string{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		var labels []string
		if m[2] != "" {
			labels = strings.Split(m[2], ",")
		}
		out[m[1]] = labels
	}
	if len(out) < 20 {
		t.Fatalf("README's Metrics table lists only %d metrics", len(out))
	}
	return out
}

// Every metric README.md lists is there from the start, before any
// request, with the labels it says and at least one series (labelled
// series at zero); every authsvc_ metric the service has is listed; every
// outcome label is of the one vocabulary; the Go runtime, process and
// build_info collectors are registered.
func TestMetricsPresentFromStartAsREADMESays(t *testing.T) {
	got := gatherAll(t)
	listed := readmeMetrics(t)
	for name, labels := range listed {
		mf, ok := got[name]
		if !ok || len(mf.GetMetric()) == 0 {
			t.Errorf("%s: listed in README.md, no series at start", name)
			continue
		}
		var have []string
		for _, lp := range mf.GetMetric()[0].GetLabel() {
			have = append(have, lp.GetName())
		}
		want := append([]string(nil), labels...)
		sort.Strings(want)
		if strings.Join(have, ",") != strings.Join(want, ",") {
			t.Errorf("%s: labels %v, README says %v", name, have, labels)
		}
	}
	vocabulary := map[string]bool{"accepted": true, "rejected": true, "locked": true, "throttled": true, "error": true, "ignored": true}
	for name, mf := range got {
		if _, ok := listed[name]; strings.HasPrefix(name, "authsvc_") && !ok {
			t.Errorf("%s is not listed in README.md's Metrics table", name)
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "outcome" && !vocabulary[lp.GetValue()] {
					t.Errorf("%s: outcome %q is not of the vocabulary", name, lp.GetValue())
				}
			}
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_open_fds"} {
		if _, ok := got[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
	if bi := got["authsvc_build_info"]; bi == nil || bi.GetMetric()[0].GetGauge().GetValue() != 1 || len(bi.GetMetric()[0].GetLabel()) != 4 {
		t.Errorf("authsvc_build_info: %v", bi)
	}
}
