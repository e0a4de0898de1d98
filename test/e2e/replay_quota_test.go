package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/registry"
)

// quotaUsers holds alice and carol, both with a digest secret.
func quotaUsers(t testing.TB) string {
	t.Helper()
	h, err := registry.HashPassword("unused", registry.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`users:
  - name: alice
    password_hash: %q
    digest_secret: wonderland
  - name: carol
    password_hash: %q
    digest_secret: through-the-glass
`, h, h)
}

func metrics(t testing.TB, s *Service) string {
	t.Helper()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestReplayQuotaFlood: one valid user flooding fresh digest tokens is
// refused once it has recorded its share of the replay cache (a temporary
// SOAP fault with Retry-After, a log line saying why), while another user
// keeps authenticating; with Redis, the share holds across replicas. Before
// the per-owner quota, the flood filled the cache and everyone's nonce
// logins failed.
func TestReplayQuotaFlood(t *testing.T) {
	const share, flood = 40, 60
	alice := zeepMany(t, flood, "--user", "alice", "--password", "wonderland", "--digest")
	carolMsgs := zeepMany(t, 10, "--user", "carol", "--password", "through-the-glass", "--digest")
	files := map[string]string{"users.yaml": quotaUsers(t)}
	quota := fmt.Sprintf("  quota: {principal: %d, address: -1}\n", share)

	cases := []struct {
		name string
		svcs func(t *testing.T) []*Service
	}{
		{"memory", func(t *testing.T) []*Service {
			return []*Service{StartService(t, "replay:\n  type: memory\n  max_entries: 100\n"+quota+baseConfig, files)}
		}},
		{"redis two replicas", func(t *testing.T) []*Service {
			r := testenv.StartRedis(t)
			cfg := "replay:\n  type: redis\n  addrs: [\"" + r.Addr + "\"]\n  timeout: 2s\n" + quota + baseConfig
			return []*Service{StartService(t, cfg, files), StartService(t, cfg, files)}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svcs := tc.svcs(t)
			accepted, refused := 0, 0
			for i, msg := range alice {
				s := svcs[i%len(svcs)]
				resp, body := s.Post(t, "/v1/authenticate", soapContentType("11"), msg)
				switch resp.StatusCode {
				case http.StatusOK:
					accepted++
				case http.StatusServiceUnavailable:
					refused++
					if code := faultCode(t, "11", body); code != "SecurityTokenUnavailable" {
						t.Errorf("message %d: fault %s, want SecurityTokenUnavailable", i, code)
					}
					if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 300 {
						t.Errorf("message %d: Retry-After %q, want 1..300 seconds", i, resp.Header.Get("Retry-After"))
					}
					if refused == 1 {
						line := s.LogLine(t, resp.Header.Get("X-Request-Id"))
						if !strings.Contains(line, "replay cache quota") || !strings.Contains(line, "alice") ||
							!strings.Contains(line, "outcome=throttled") && !strings.Contains(line, `"outcome":"throttled"`) {
							t.Errorf("the log does not say the quota refused alice: %s", line)
						}
					}
				default:
					t.Fatalf("message %d: HTTP %d\n%s", i, resp.StatusCode, body)
				}
			}
			if accepted != share || refused != flood-share {
				t.Fatalf("alice's %d fresh tokens: %d accepted, %d refused; want %d and %d", flood, accepted, refused, share, flood-share)
			}
			// Carol is not affected by alice's flood.
			for i, msg := range carolMsgs {
				resp, body := svcs[i%len(svcs)].Post(t, "/v1/authenticate", soapContentType("11"), msg)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("carol's token %d after alice's flood: HTTP %d\n%s", i, resp.StatusCode, body)
				}
			}
			refusals := 0
			for _, s := range svcs {
				m := metrics(t, s)
				var n int
				if i := strings.Index(m, "\nauthsvc_replay_quota_refusals_total{kind=\"principal\"} "); i >= 0 {
					fmt.Sscan(m[i+len("\nauthsvc_replay_quota_refusals_total{kind=\"principal\"} "):], &n)
				}
				refusals += n
			}
			if refusals != flood-share {
				t.Errorf("authsvc_replay_quota_refusals_total{kind=\"principal\"} sums to %d, want %d", refusals, flood-share)
			}
		})
	}
}

// TestReplayCapacityUsable: the memory cache takes max_entries nonces, not
// about half of them (per-shard bounds refused keys once the fullest of 64
// shards was full); the next one is refused as a temporary failure saying
// the cache is full, and the gauges show it.
func TestReplayCapacityUsable(t *testing.T) {
	const size = 100
	alice := zeepMany(t, size+1, "--user", "alice", "--password", "wonderland", "--digest")
	cfg := fmt.Sprintf("replay:\n  type: memory\n  max_entries: %d\n  quota: {principal: -1, address: -1}\n", size) + baseConfig
	svc := StartService(t, cfg, map[string]string{"users.yaml": quotaUsers(t)})
	for i, msg := range alice[:size] {
		resp, body := svc.Post(t, "/v1/authenticate", soapContentType("11"), msg)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("token %d of max_entries %d: HTTP %d\n%s", i+1, size, resp.StatusCode, body)
		}
	}
	resp, body := svc.Post(t, "/v1/authenticate", soapContentType("11"), alice[size])
	if resp.StatusCode != http.StatusServiceUnavailable || faultCode(t, "11", body) != "SecurityTokenUnavailable" {
		t.Fatalf("token %d beyond max_entries: HTTP %d\n%s", size+1, resp.StatusCode, body)
	}
	if line := svc.LogLine(t, resp.Header.Get("X-Request-Id")); !strings.Contains(line, "replay cache full") {
		t.Errorf("the log does not say the cache is full: %s", line)
	}
	svc.WaitLog(t, "replay cache: nearly full")
	m := metrics(t, svc)
	for _, want := range []string{"\nauthsvc_replay_entries 100\n", "\nauthsvc_replay_capacity 100\n"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", strings.TrimSpace(want))
		}
	}
}
