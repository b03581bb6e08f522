package sms

import "testing"

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"13800138000": "+8613800138000", "+86 138 0013 8000": "+8613800138000", "0086-138-0013-8000": "+8613800138000",
		"１３８００１３８０００": "+8613800138000", "(138) 0013-8000": "+8613800138000",
		"010 12345678": "", "+1 415 555 2671": "", "12345": "", "": "", "1380013800a": "",
	} {
		got, err := Normalize(in, []int{86})
		if got != want || (err == nil) != (want != "") {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	if got, err := Normalize("+852 9123 4567", []int{86, 852}); got != "+85291234567" || err != nil {
		t.Errorf("Hong Kong with 852 allowed: %q %v", got, err)
	}
	if Mask("+8613800138000") != "+86138****8000" {
		t.Errorf("mask %s", Mask("+8613800138000"))
	}
}
