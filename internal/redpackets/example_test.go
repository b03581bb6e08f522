package redpackets_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/xiadan/xiadan/internal/redpackets"
)

// The worked example of docs/PROMOTIONS-redpackets.md: ¥100.00 in 10 packets of ¥1.00 to
// ¥30.00.
func ExampleSplit() {
	amounts, _ := redpackets.Split(10000, 10, 100, 3000, rand.New(rand.NewPCG(2026, 12)))
	var sum int64
	for _, a := range amounts {
		sum += a
	}
	fmt.Println(amounts, sum)
	// Output: [427 1072 1661 264 369 1791 1317 628 711 1760] 10000
}
