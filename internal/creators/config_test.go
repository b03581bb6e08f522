package creators

import (
	"testing"
	"time"
)

// TestConfigFromEnv reads the two settings and refuses what is not a positive duration
// within bounds.
func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env     map[string]string
		window  time.Duration
		hold    time.Duration
		wantErr bool
	}{
		{map[string]string{}, 168 * time.Hour, 168 * time.Hour, false},
		{map[string]string{"CREATOR_ATTRIBUTION_WINDOW": "72h", "CREATOR_COMMISSION_HOLD": "336h"}, 72 * time.Hour, 336 * time.Hour, false},
		{map[string]string{"CREATOR_ATTRIBUTION_WINDOW": "2161h"}, 0, 0, true},
		{map[string]string{"CREATOR_COMMISSION_HOLD": "soon"}, 0, 0, true},
		{map[string]string{"CREATOR_ATTRIBUTION_WINDOW": "-1h"}, 0, 0, true},
	} {
		c, err := ConfigFromEnv(func(k string) string { return tc.env[k] })
		if (err != nil) != tc.wantErr {
			t.Errorf("%v: error %v", tc.env, err)
			continue
		}
		if !tc.wantErr && (c.Window != tc.window || c.Hold != tc.hold) {
			t.Errorf("%v: %+v", tc.env, c)
		}
	}
}
