// Package uniq appends and removes strings in lists that hold each value
// once, such as a subject's groups: in linear time for the long lists an
// Active Directory user brings (hundreds or thousands of group SIDs or
// memberOf values), where scanning the list for each value would take
// milliseconds an authentication.
package uniq

import "slices"

// scanMax bounds the comparisons (values added × values held after) for
// which Append and Remove scan the list for each value; above it, and when
// more than a few values are given, they use a set.
const scanMax = 256

// Append appends to held the values of add that it does not hold yet (nor
// added before them), in order, and without the empty ones when skipEmpty.
// held's own values are left as they are, duplicates included.
func Append(held, add []string, skipEmpty bool) []string {
	if n := len(add); n <= 8 || n*(len(held)+n) <= scanMax {
		for _, v := range add {
			if (v != "" || !skipEmpty) && !slices.Contains(held, v) {
				if held == nil {
					held = make([]string, 0, len(add)) // one allocation for the usual first call
				}
				held = append(held, v)
			}
		}
		return held
	}
	seen := make(map[string]struct{}, len(held)+len(add))
	for _, v := range held {
		seen[v] = struct{}{}
	}
	for _, v := range add {
		if _, dup := seen[v]; dup || v == "" && skipEmpty {
			continue
		}
		seen[v] = struct{}{}
		if held == nil {
			held = make([]string, 0, len(add))
		}
		held = append(held, v)
	}
	return held
}

// Remove removes from list, in place, every value that drop holds, keeping
// the order of the others.
func Remove(list, drop []string) []string {
	if n := len(drop); n <= 8 || n*len(list) <= scanMax {
		return slices.DeleteFunc(list, func(v string) bool { return slices.Contains(drop, v) })
	}
	set := make(map[string]struct{}, len(drop))
	for _, v := range drop {
		set[v] = struct{}{}
	}
	return slices.DeleteFunc(list, func(v string) bool { _, ok := set[v]; return ok })
}
