package authn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/authsvc/authsvc/wsse"
)

// jaasRun is what the reference model says of a chain run.
type jaasRun struct {
	success bool
	ran     int // entries whose module ran
	// fault is the index of the entry whose fault is returned, -1 for the
	// "no credential found" fault (or on success); kind its outcome.
	fault int
	kind  res
}

// jaas is the reference model, written from the JAAS LoginContext
// documentation rather than from the chain's code, with authsvc's two
// additions (see Flag): a required or requisite module that finds no
// credential fails, and the fault of a failed chain is chosen as the doc
// says (first required/requisite failure, else first technical failure,
// else first rejection, else first required/requisite that found nothing).
//
//   - Required: must succeed; whether it succeeds or fails, go on.
//   - Requisite: must succeed; if it fails, return to the application at once.
//   - Sufficient: need not succeed; if it succeeds (and no required or
//     requisite module failed before it), return at once; else go on.
//   - Optional: need not succeed; go on either way.
//
// The chain succeeds iff every required and requisite module that ran
// succeeded and, when none ran, a sufficient or optional module succeeded.
func jaas(steps []step) jaasRun {
	run := jaasRun{fault: -1}
	requiredFailed, sawRequired, otherOK := false, false, false
	firstReqFail, firstTech, firstNo, firstMissing := -1, -1, -1, -1
	failedOutcome := func(i int) res {
		// What the entry counts as: an ignored required/requisite is a rejection.
		if steps[i].r == ign {
			return no
		}
		return steps[i].r
	}
	for i, s := range steps {
		run.ran = i + 1
		mustSucceed := s.flag == Required || s.flag == Requisite
		succeeded := s.r == ok
		failed := !succeeded && (s.r != ign || mustSucceed)
		if failed && s.r == ign {
			if firstMissing < 0 {
				firstMissing = i
			}
		} else if failed {
			switch failedOutcome(i) {
			case tech:
				if firstTech < 0 {
					firstTech = i
				}
			case no:
				if firstNo < 0 {
					firstNo = i
				}
			}
		}
		if mustSucceed {
			sawRequired = true
			if !succeeded {
				requiredFailed = true
				if firstReqFail < 0 && s.r != ign {
					firstReqFail = i
				}
				if s.flag == Requisite {
					break
				}
			}
			continue
		}
		if succeeded {
			otherOK = true
			if s.flag == Sufficient && !requiredFailed {
				break
			}
		}
	}
	run.success = !requiredFailed && (sawRequired || otherOK)
	if !run.success {
		for _, i := range []int{firstReqFail, firstTech, firstNo, firstMissing} {
			if i >= 0 {
				run.fault, run.kind = i, failedOutcome(i)
				break
			}
		}
	}
	return run
}

// sequences calls fn with every chain of length 1 to n over every flag and
// every module outcome.
func sequences(n int, fn func([]step)) {
	flags := []Flag{Required, Requisite, Sufficient, Optional}
	results := []res{ok, no, tech, ign}
	var walk func(prefix []step)
	walk = func(prefix []step) {
		if len(prefix) > 0 {
			fn(prefix)
		}
		if len(prefix) == n {
			return
		}
		for _, f := range flags {
			for _, r := range results {
				walk(append(prefix, step{f, r}))
			}
		}
	}
	walk(nil)
}

// outcomeOf is the Outcome the chain gives an entry of flag f whose module
// came to r.
func outcomeOf(f Flag, r res) Outcome {
	switch {
	case r == ok:
		return Succeeded
	case r == ign && (f == Required || f == Requisite):
		return Rejected
	case r == ign:
		return Ignored
	case r == tech:
		return Errored
	}
	return Rejected
}

// TestDecideExhaustive folds decide over every chain of up to four entries
// and compares where it stops and what it concludes with the reference.
func TestDecideExhaustive(t *testing.T) {
	n := 0
	sequences(4, func(steps []step) {
		n++
		var tl tally
		ran := 0
		for _, s := range steps {
			ran++
			var stop bool
			if tl, stop = decide(tl, s.flag, outcomeOf(s.flag, s.r)); stop {
				break
			}
		}
		want := jaas(steps)
		if tl.succeeded() != want.success || ran != want.ran {
			t.Errorf("%v: decide: success %v after %d entries; reference: %v after %d", steps, tl.succeeded(), ran, want.success, want.ran)
		}
	})
	if n != 16+16*16+16*16*16+16*16*16*16 {
		t.Fatalf("walked %d chains", n)
	}
}

// TestChainExhaustive runs every chain of up to four entries (every flag,
// every module outcome) through Authenticate and compares it with the
// reference model: success, which modules ran, the Subject's modules and
// groups, and the fault's code, module and temporariness.
func TestChainExhaustive(t *testing.T) {
	sequences(4, func(steps []step) {
		var calls []string
		entries := make([]Entry, len(steps))
		for i, s := range steps {
			name := fmt.Sprintf("m%d", i)
			entries[i] = Entry{Name: name, Flag: s.flag, Module: scripted(name, s.r, &calls)}
		}
		c, err := NewChain(entries...)
		if err != nil {
			t.Fatal(err)
		}
		subj, err := c.Authenticate(context.Background(), &Request{})
		want := jaas(steps)
		if len(calls) != want.ran {
			t.Errorf("%v: ran %v, reference runs %d", steps, calls, want.ran)
		}
		if want.success {
			if err != nil {
				t.Errorf("%v: %v, reference succeeds", steps, err)
				return
			}
			var mods, groups []string
			for i, s := range steps[:want.ran] {
				if s.r == ok {
					mods = append(mods, fmt.Sprintf("m%d", i))
					groups = append(groups, fmt.Sprintf("g-m%d", i))
				}
			}
			if !slices.Equal(subj.Modules, mods) || !slices.Equal(subj.Groups, groups) || subj.Principal != mods[0] {
				t.Errorf("%v: subject %+v, want modules %v groups %v", steps, subj, mods, groups)
			}
			return
		}
		var f *Fault
		if !errors.As(err, &f) {
			t.Errorf("%v: %v (%v), reference fails", steps, subj, err)
			return
		}
		wantModule, wantCode, wantTemp := "", wsse.InvalidSecurity, false // nothing found, no Security header
		if want.fault >= 0 {
			wantModule = fmt.Sprintf("m%d", want.fault)
			switch {
			case want.kind == tech:
				wantCode, wantTemp = wsse.SecurityTokenUnavailable, true
			case steps[want.fault].r == ign:
				wantCode = wsse.InvalidSecurity // a required module found nothing, and there is no Security header
			default:
				wantCode = wsse.FailedAuthentication
			}
		}
		if f.Module != wantModule || f.Code != wantCode || f.Temporary != wantTemp {
			t.Errorf("%v: fault %s %s temporary=%v, reference %q %s %v", steps, f.Module, f.Code, f.Temporary, wantModule, wantCode, wantTemp)
		}
	})
}
