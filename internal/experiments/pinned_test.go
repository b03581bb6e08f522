package experiments

// pinned are the arms of users 1 to 16 in experiment "coupon-value" with arms a and b at
// 50/50, and pinnedBucket user 42's bucket out of 10000: computed once and kept, so that
// a change to the hash (which would move users between arms) fails the tests.
const (
	pinned       = "baaabbbbbbbbbaab"
	pinnedBucket = 4430
)
