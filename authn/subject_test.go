package authn

import (
	"fmt"
	"slices"
	"testing"
)

// sids returns n distinct group SIDs shaped like an Active Directory PAC's.
func sids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("S-1-5-21-3623811015-3361044348-30300820-%d", 1000+i)
	}
	return out
}

func TestAddGroups(t *testing.T) {
	for _, n := range []int{0, 1, 5, 16, 17, 40, 300} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			in := sids(n)
			var s Subject
			s.AddGroups("first", "", "first")
			// Each SID twice, empties between, in two calls.
			var batch []string
			for _, g := range in {
				batch = append(batch, g, "", g)
			}
			s.AddGroups(batch[:len(batch)/2]...)
			s.AddGroups(batch[len(batch)/2:]...)
			s.AddGroups(in...)
			s.AddGroups("first", "last")
			want := append(append([]string{"first"}, in...), "last")
			if !slices.Equal(s.Groups, want) {
				t.Fatalf("groups:\n got %q\nwant %q", s.Groups, want)
			}
		})
	}
}

func TestMergeAttribute(t *testing.T) {
	var s Subject
	s.MergeAttribute("mail")
	s.MergeAttribute("mail", nil...)
	if s.Attributes != nil {
		t.Fatalf("nothing merged, yet attributes %v", s.Attributes)
	}
	s.MergeAttribute("mail", "a@x", "a@x", "b@x")
	s.AddAttribute("memberOf", "cn=a")
	s.MergeAttribute("memberOf", append(sids(50), "cn=a", "")...)
	s.MergeAttribute("mail", "b@x")
	if want := []string{"a@x", "b@x"}; !slices.Equal(s.Attributes["mail"], want) {
		t.Errorf("mail %q, want %q", s.Attributes["mail"], want)
	}
	if want := append(append([]string{"cn=a"}, sids(50)...), ""); !slices.Equal(s.Attributes["memberOf"], want) {
		t.Errorf("memberOf %q, want %q", s.Attributes["memberOf"], want)
	}
}

// BenchmarkAddGroups: a subject taking the groups of an Active Directory
// user (n group SIDs from the PAC), then the same groups again from a
// directory lookup (enrich), as a Kerberos chain with enrichment does.
func BenchmarkAddGroups(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		in := sids(n)
		b.Run(fmt.Sprintf("groups=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var s Subject
				s.AddGroups(in...)
				s.AddGroups(in...)
				if len(s.Groups) != n {
					b.Fatal(len(s.Groups))
				}
			}
		})
	}
}
