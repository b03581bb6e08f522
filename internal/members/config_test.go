package members

import (
	"testing"
	"time"
)

// TestConfigFromEnv: defaults without settings, settings read, nonsense refused by name.
func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	c, err := ConfigFromEnv(func(string) string { return "" })
	if err != nil || c != DefaultConfig() || c.Window != 365*24*time.Hour {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	env := map[string]string{"MEMBER_WINDOW": "720h", "MEMBER_RECOMPUTE_INTERVAL": "1h", "MEMBER_CURRENCY": "HKD"}
	c, err = ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || c.Window != 720*time.Hour || c.Interval != time.Hour || c.Currency != "HKD" {
		t.Fatalf("settings: %+v %v", c, err)
	}
	for k, v := range map[string]string{"MEMBER_WINDOW": "1h", "MEMBER_RECOMPUTE_INTERVAL": "soon", "MEMBER_CURRENCY": "rmb"} {
		if _, err := ConfigFromEnv(func(n string) string { return map[string]string{k: v}[n] }); err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
}
