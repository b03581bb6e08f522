//go:build race

package e2etest_test

// raceEnabled reports whether this test binary was built with -race.
const raceEnabled = true
