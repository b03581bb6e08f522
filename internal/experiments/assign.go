package experiments

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
)

// Arm is what assignment needs of an arm: its key and weight, in position order.
type Arm struct {
	Key    string
	Weight int
}

// Bucket is user's point on the experiment's line of total weight: the first 8 bytes of
// SHA-256("<key>\x00<userID in decimal>") as a big-endian unsigned integer, modulo total.
// It depends on nothing but the key and the user id, so every replica, before and after
// a restart, puts a user in the same bucket; the modulo bias is below total/2^64.
func Bucket(key string, userID, total int) int {
	if total <= 0 {
		return 0
	}
	h := sha256.Sum256([]byte(key + "\x00" + strconv.Itoa(userID)))
	return int(binary.BigEndian.Uint64(h[:8]) % uint64(total))
}

// Assign returns the arm of user in the experiment key: the arms, in position order,
// cover consecutive ranges of the line [0, Σweight) as wide as their weights, and the
// user gets the arm whose range holds their Bucket. "" when there are no arms.
func Assign(key string, userID int, arms []Arm) string {
	total := 0
	for _, a := range arms {
		total += max(a.Weight, 0)
	}
	if total == 0 {
		return ""
	}
	b := Bucket(key, userID, total)
	for _, a := range arms {
		if b < a.Weight {
			return a.Key
		}
		b -= max(a.Weight, 0)
	}
	return arms[len(arms)-1].Key
}
