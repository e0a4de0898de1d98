package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
)

// replicaConfig is baseConfig with the replay cache in a shared Redis. The
// timeout is generous because three replicas, redis-server and the test
// share two CPUs; the outage phase does not depend on it (a stopped server
// on loopback refuses connections at once).
const replicaConfig = `
replay:
  type: redis
  addrs: ["{{REDIS}}"]
  timeout: 2s
  key_prefix: "e2e:replay:"
` + baseConfig

// outcome is what one replica answered to one message.
type outcome struct {
	replica int
	status  int
	body    []byte
	reqID   string
	err     error
}

var replicaClient = &http.Client{Timeout: 30 * time.Second}

func send(s *Service, version string, msg []byte) outcome {
	req, err := http.NewRequest(http.MethodPost, s.URL+"/v1/authenticate", bytes.NewReader(msg))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Content-Type", soapContentType(version))
	resp, err := replicaClient.Do(req)
	if err != nil {
		return outcome{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return outcome{status: resp.StatusCode, body: b, reqID: resp.Header.Get("X-Request-Id"), err: err}
}

// fanOut delivers each message to every replica at once (the three requests
// of one message start together), a few messages at a time, and returns the
// outcomes per message.
func fanOut(t *testing.T, svcs []*Service, version string, msgs [][]byte) [][]outcome {
	t.Helper()
	out := make([][]outcome, len(msgs))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, msg := range msgs {
		out[i] = make([]outcome, len(svcs))
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var ready, done sync.WaitGroup
			start := make(chan struct{})
			for j, s := range svcs {
				ready.Add(1)
				done.Add(1)
				go func() {
					defer done.Done()
					ready.Done()
					<-start
					o := send(s, version, msg)
					o.replica = j
					out[i][j] = o
				}()
			}
			ready.Wait()
			close(start)
			done.Wait()
		}()
	}
	wg.Wait()
	for i := range out {
		for _, o := range out[i] {
			if o.err != nil {
				t.Fatalf("message %d to replica %d: %v", i, o.replica, o.err)
			}
		}
	}
	return out
}

// zeepMany makes count envelopes with one zeep run (--count), each with its
// own Nonce.
func zeepMany(t *testing.T, count int, args ...string) [][]byte {
	t.Helper()
	out := zeep(t, append(args, "--count", fmt.Sprint(count))...)
	msgs := bytes.Split(out, []byte{0})
	if len(msgs) != count {
		t.Fatalf("zeep made %d messages, want %d", len(msgs), count)
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		i := bytes.Index(m, []byte(`Base64Binary">`))
		if i < 0 {
			t.Fatalf("no Nonce in zeep's message:\n%s", m)
		}
		n := string(m[i : i+40])
		if seen[n] {
			t.Fatalf("zeep repeated a nonce: %s", n)
		}
		seen[n] = true
	}
	return msgs
}

// checkOnceEach checks that each message was accepted by exactly one
// replica, as alice, and refused as a replay (InvalidSecurity, logged as a
// replayed Nonce) by the others. It returns how many each replica accepted.
func checkOnceEach(t *testing.T, svcs []*Service, version string, res [][]outcome) []int {
	t.Helper()
	accepted, replays := 0, 0
	perReplica := make([]int, len(svcs))
	for i, outs := range res {
		ok := 0
		for _, o := range outs {
			switch o.status {
			case http.StatusOK:
				var s subject
				if err := json.Unmarshal(o.body, &s); err != nil || s.Principal != "alice" || s.TokenType != "PasswordDigest" {
					t.Errorf("message %d, replica %d: subject %s (%v)", i, o.replica, o.body, err)
				}
				ok++
				perReplica[o.replica]++
			case http.StatusUnauthorized:
				if c := faultCode(t, version, o.body); c != "InvalidSecurity" {
					t.Errorf("message %d, replica %d: fault %s, want InvalidSecurity", i, o.replica, c)
				}
				if l := svcs[o.replica].LogLine(t, o.reqID); !strings.Contains(l, "replayed Nonce") {
					t.Errorf("message %d, replica %d: log does not say replayed: %s", i, o.replica, l)
				}
				replays++
			default:
				t.Errorf("message %d, replica %d: status %d: %s", i, o.replica, o.status, o.body)
			}
		}
		if ok != 1 {
			t.Errorf("message %d accepted by %d replicas, want exactly 1", i, ok)
		}
		accepted += ok
	}
	if n := len(res); accepted != n || replays != 2*n {
		t.Errorf("%d messages: %d accepted, %d refused as replays; want %d and %d", n, accepted, replays, n, 2*n)
	}
	return perReplica
}

type readiness struct {
	Ready  bool `json:"ready"`
	Checks []struct {
		Name  string `json:"name"`
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	} `json:"checks"`
}

func readyz(t *testing.T, s *Service) (int, readiness) {
	t.Helper()
	resp, err := replicaClient.Get(s.URL + "/readyz")
	if err != nil {
		t.Fatalf("/readyz: %v", err)
	}
	defer resp.Body.Close()
	var r readiness
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("/readyz body: %v", err)
	}
	return resp.StatusCode, r
}

// TestReplicasSharedRedis runs three authsvc replicas sharing one real
// redis-server. Every valid token is delivered to all three at once: exactly
// one accepts it, the other two see the replay. While Redis is down nothing
// is accepted (a temporary 503 fault, /readyz names the replay check); once
// it is back the same replicas, not restarted, accept valid tokens again,
// including those refused during the outage (a client may resend after a
// temporary fault).
func TestReplicasSharedRedis(t *testing.T) {
	r := testenv.StartRedis(t)
	cfg := strings.ReplaceAll(replicaConfig, "{{REDIS}}", r.Addr)
	files := map[string]string{"users.yaml": usersFile(t)}
	svcs := make([]*Service, 3)
	for i := range svcs {
		svcs[i] = StartService(t, cfg, files)
	}

	// All tokens up front: zeep starts slowly, and the outage phase must not
	// wait for it. Created is now; the freshness window is 5 minutes.
	const n, nDown, nAfter = 30, 6, 6
	user := []string{"--user", "alice", "--password", "wonderland", "--digest"}
	msgs := zeepMany(t, n+nDown+nAfter, user...)
	first, down, after := msgs[:n], msgs[n:n+nDown], msgs[n+nDown:]
	down12 := zeepMany(t, 2, append([]string{"--soap", "12"}, user...)...)

	t.Run("each token accepted once across replicas", func(t *testing.T) {
		per := checkOnceEach(t, svcs, "11", fanOut(t, svcs, "11", first))
		t.Logf("accepted per replica: %v", per)
		for i, s := range svcs {
			if code, rd := readyz(t, s); code != 200 || !rd.Ready {
				t.Errorf("replica %d not ready with Redis up: %d %+v", i, code, rd)
			}
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("Redis down: nothing accepted", func(t *testing.T) {
		r.Stop()
		// Fresh tokens, tokens already used, SOAP 1.1 and 1.2: all refused
		// with a temporary fault by every replica.
		check := func(version string, msgs [][]byte) {
			for i, outs := range fanOut(t, svcs, version, msgs) {
				for _, o := range outs {
					if o.status != http.StatusServiceUnavailable {
						t.Errorf("SOAP %s message %d, replica %d: status %d, want 503: %s", version, i, o.replica, o.status, o.body)
						continue
					}
					if c := faultCode(t, version, o.body); c != "SecurityTokenUnavailable" {
						t.Errorf("SOAP %s message %d, replica %d: fault %s, want SecurityTokenUnavailable", version, i, o.replica, c)
					}
					if !bytes.Contains(o.body, []byte("try again later")) {
						t.Errorf("fault does not tell the client to retry: %s", o.body)
					}
					if version == "12" && !bytes.Contains(o.body, []byte("<env:Value>env:Receiver</env:Value>")) {
						t.Errorf("SOAP 1.2 temporary fault is not a Receiver fault: %s", o.body)
					}
					l := svcs[o.replica].LogLine(t, o.reqID)
					if !strings.Contains(l, `"level":"ERROR"`) || !strings.Contains(l, "replay/redis") {
						t.Errorf("log line does not show a Redis failure at error level: %s", l)
					}
				}
			}
		}
		check("11", down)
		check("11", first[:3])
		check("12", down12)
		for i, s := range svcs {
			code, rd := readyz(t, s)
			if code != http.StatusServiceUnavailable || rd.Ready {
				t.Errorf("replica %d: /readyz %d %+v while Redis is down", i, code, rd)
			}
			named := false
			for _, c := range rd.Checks {
				if c.Name == "replay" && !c.OK && c.Error != "" {
					named = true
				}
			}
			if !named {
				t.Errorf("replica %d: /readyz does not name the failing replay check: %+v", i, rd)
			}
			s.Healthy(t) // alive, just not ready: no restart wanted
			if !strings.Contains(s.Log(), "replay cache: Redis unavailable") {
				t.Errorf("replica %d did not log the outage", i)
			}
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("Redis back: accepted again without restart", func(t *testing.T) {
		r.Start()
		// Wait (bounded, not asserted) until every replica's pool has
		// reconnected; go-redis re-dials in the background.
		deadline := time.Now().Add(30 * time.Second)
		for i, s := range svcs {
			for {
				code, _ := readyz(t, s)
				if code == 200 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("replica %d not ready after Redis returned:\n%s", i, s.Log())
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		// Tokens refused during the outage were never recorded: a resend
		// is accepted once. Fresh tokens likewise.
		checkOnceEach(t, svcs, "11", fanOut(t, svcs, "11", append(append([][]byte{}, down...), after...)))
		checkOnceEach(t, svcs, "12", fanOut(t, svcs, "12", down12))
		// An info line: the log writes those in batches, so wait for it.
		for _, s := range svcs {
			s.WaitLog(t, "replay cache: Redis answers again")
		}
	})
}
