package keytabs

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jcmturner/gokrb5/v8/types"
)

// Errors of Set.Key; a *KeyError wraps one of them.
var (
	ErrNoPrincipal = errors.New("keytabs: no key for the principal")
	ErrNoKVNO      = errors.New("keytabs: no key with the kvno")
	ErrNoEType     = errors.New("keytabs: no key of the encryption type")
)

// KeyError says which key was missing and what the keytabs have instead.
type KeyError struct {
	Err       error // ErrNoPrincipal, ErrNoKVNO or ErrNoEType
	Principal string
	KVNO      int
	EType     int32
	// Have lists what there is for the principal: kvnos for ErrNoKVNO,
	// encryption types for ErrNoEType.
	Have []string
}

func (e *KeyError) Error() string {
	switch {
	case errors.Is(e.Err, ErrNoKVNO):
		return fmt.Sprintf("keytabs: no key for %s with kvno %d (the keytab has kvno %s)", e.Principal, e.KVNO, strings.Join(e.Have, ", "))
	case errors.Is(e.Err, ErrNoEType):
		return fmt.Sprintf("keytabs: no %s key for %s kvno %d (the keytab has %s)", ETypeName(e.EType), e.Principal, e.KVNO, strings.Join(e.Have, ", "))
	}
	return fmt.Sprintf("keytabs: no key for %s in the keytab", e.Principal)
}

func (e *KeyError) Unwrap() error { return e.Err }

// Options configure Open.
type Options struct {
	// ReloadInterval is how often the files are checked for changes
	// (default 10 s; negative: never, Reload must be called).
	ReloadInterval time.Duration
	// Logger receives reload messages (default slog.Default()).
	Logger *slog.Logger
}

// Set is the merged keys of one or more keytab files. It is safe for
// concurrent use; a reload swaps in a complete new snapshot atomically, so a
// lookup sees either the old keys or the new ones, never a mix or none.
type Set struct {
	paths  []string
	log    *slog.Logger
	cur    atomic.Pointer[snapshot]
	mu     sync.Mutex // serialises reloads
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once
}

type fileStamp struct {
	size    int64
	mtime   time.Time
	ino     uint64
	present bool
}

type snapshot struct {
	gen    uint64
	stamps []fileStamp
	// by principal name@REALM, newest timestamp first within a kvno/etype
	keys map[string][]Entry
}

// Open loads the keytabs. Every file must exist and parse.
func Open(paths []string, o Options) (*Set, error) {
	if len(paths) == 0 {
		return nil, errors.New("keytabs: no keytab files")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ReloadInterval == 0 {
		o.ReloadInterval = 10 * time.Second
	}
	s := &Set{paths: slices.Clone(paths), log: o.Logger, stop: make(chan struct{}), done: make(chan struct{})}
	snap, err := s.load(0)
	if err != nil {
		return nil, err
	}
	s.cur.Store(snap)
	if o.ReloadInterval > 0 {
		go s.poll(o.ReloadInterval)
	} else {
		close(s.done)
	}
	return s, nil
}

func stat(path string) (fileStamp, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	fs := fileStamp{size: st.Size(), mtime: st.ModTime(), present: true}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		fs.ino = sys.Ino
	}
	return fs, nil
}

func (s *Set) load(gen uint64) (*snapshot, error) {
	snap := &snapshot{gen: gen, keys: make(map[string][]Entry)}
	for _, p := range s.paths {
		st, err := stat(p)
		if err != nil {
			return nil, fmt.Errorf("keytabs: %w", err)
		}
		es, err := Load(p)
		if err != nil {
			return nil, err
		}
		// A file rewritten while we read it is caught by the next poll.
		snap.stamps = append(snap.stamps, st)
		for _, e := range es {
			k := e.Principal()
			snap.keys[k] = append(snap.keys[k], e)
		}
	}
	for _, es := range snap.keys {
		slices.SortStableFunc(es, func(a, b Entry) int { return b.Timestamp.Compare(a.Timestamp) })
	}
	return snap, nil
}

// Reload reloads the files when any of them changed (size, mtime or inode).
// On an error the keys loaded before stay in use.
func (s *Set) Reload() (changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur.Load()
	for i, p := range s.paths {
		st, err := stat(p)
		if err != nil {
			return false, fmt.Errorf("keytabs: %w", err)
		}
		if st != old.stamps[i] {
			changed = true
		}
	}
	if !changed {
		return false, nil
	}
	snap, err := s.load(old.gen + 1)
	if err != nil {
		return false, err
	}
	s.cur.Store(snap)
	return true, nil
}

func (s *Set) poll(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			changed, err := s.Reload()
			if err != nil {
				s.log.Warn("keytab reload failed; keeping the keys loaded before", "files", s.paths, "err", err)
			} else if changed {
				s.log.Info("keytabs reloaded", "files", s.paths, "principals", s.Principals())
			}
		}
	}
}

// Close stops polling.
func (s *Set) Close() error {
	s.closed.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

// Generation changes each time the keys are reloaded; caches of results
// computed with a key record it.
func (s *Set) Generation() uint64 { return s.cur.Load().gen }

// Principals lists the principals that have keys, sorted.
func (s *Set) Principals() []string {
	snap := s.cur.Load()
	out := make([]string, 0, len(snap.keys))
	for k := range snap.keys {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Has reports whether there is any key for principal (name@REALM).
func (s *Set) Has(principal string) bool { _, ok := s.cur.Load().keys[principal]; return ok }

// Key returns the key of principal (name without realm, components joined
// by "/") in realm with the kvno and encryption type of a ticket. kvno 0
// (a ticket without one) takes the highest kvno held. Every kvno in the files
// stays usable, so tickets issued before a key rotation keep working while
// the old entries remain in the keytab.
func (s *Set) Key(name, realm string, kvno int, etype int32) (types.EncryptionKey, int, error) {
	snap := s.cur.Load()
	p := name + "@" + realm
	es := snap.keys[p]
	if len(es) == 0 {
		return types.EncryptionKey{}, 0, &KeyError{Err: ErrNoPrincipal, Principal: p, KVNO: kvno, EType: etype}
	}
	want := uint32(kvno)
	if kvno == 0 {
		for _, e := range es {
			if e.EType == etype && e.KVNO > want {
				want = e.KVNO
			}
		}
	}
	kvFound := false
	for _, e := range es {
		if e.KVNO != want {
			continue
		}
		kvFound = true
		if e.EType == etype {
			return types.EncryptionKey{KeyType: e.EType, KeyValue: e.key}, int(e.KVNO), nil
		}
	}
	ke := &KeyError{Principal: p, KVNO: kvno, EType: etype}
	if kvFound {
		ke.Err = ErrNoEType
		for _, e := range es {
			if e.KVNO == want {
				ke.Have = appendUniq(ke.Have, ETypeName(e.EType))
			}
		}
	} else {
		ke.Err = ErrNoKVNO
		if kvno == 0 {
			ke.Err = ErrNoEType
		}
		for _, e := range es {
			if kvno == 0 {
				ke.Have = appendUniq(ke.Have, ETypeName(e.EType))
			} else {
				ke.Have = appendUniq(ke.Have, fmt.Sprint(e.KVNO))
			}
		}
	}
	return types.EncryptionKey{}, 0, ke
}

func appendUniq(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// List prints the keytab at path like `klist -k -e -t`: kvno, timestamp,
// principal and encryption type of every entry, never the keys.
func List(w io.Writer, path string) error {
	es, err := Load(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Keytab name: FILE:%s\n", path)
	fmt.Fprintf(w, "KVNO Timestamp         Principal\n")
	fmt.Fprintf(w, "---- ----------------- --------------------------------------------------------\n")
	for _, e := range es {
		if _, err := fmt.Fprintf(w, "%4d %s %s (%s) \n", e.KVNO, e.Timestamp.Format("01/02/06 15:04:05"), e.Principal(), ETypeName(e.EType)); err != nil {
			return fmt.Errorf("keytabs: %w", err)
		}
	}
	return nil
}
