package parseref

import "time"

// CheckTimestamp validates a wsu:Timestamp against now: Created may be at
// most futureSkew ahead and at most maxAge old (0: no age limit), and Expires,
// when present, must be after Created and not in the past. A stale or expired
// timestamp is MessageExpired; a malformed one is InvalidSecurity.
func CheckTimestamp(ts *Timestamp, now time.Time, maxAge, futureSkew time.Duration) error {
	if ts.Created == "" {
		return &Error{Code: InvalidSecurity, Reason: "Timestamp without Created"}
	}
	created, err := ParseTime(ts.Created)
	if err != nil {
		return err
	}
	if created.Sub(now) > futureSkew {
		return errorf(MessageExpired, "Timestamp Created %s is more than %s in the future", ts.Created, futureSkew)
	}
	if maxAge > 0 && now.Sub(created) > maxAge {
		return errorf(MessageExpired, "Timestamp Created %s is older than %s", ts.Created, maxAge)
	}
	if ts.Expires != "" {
		expires, err := ParseTime(ts.Expires)
		if err != nil {
			return err
		}
		if !expires.After(created) {
			return errorf(InvalidSecurity, "Timestamp Expires %s is not after Created %s", ts.Expires, ts.Created)
		}
		if !now.Before(expires) {
			return errorf(MessageExpired, "Timestamp expired at %s", ts.Expires)
		}
	}
	return nil
}
