package onboarding

import "testing"

func TestValidLicenceNumber(t *testing.T) {
	for _, tc := range []struct {
		code string
		ok   bool
	}{
		{"91310000MA1FL8XQ37", true},
		{"91440300MA5FUKXJ8H", true},
		{"91310000MA1FL8XQ3A", false}, // wrong check character
		{"91310000MA1FL8XQ3", false},  // too short
		{"91310000MA1FL8XQ3I7", false},
		{"9131000OMA1FL8XQ37", false}, // letter O is not in the alphabet
	} {
		if got := ValidLicenceNumber(tc.code); got != tc.ok {
			t.Errorf("ValidLicenceNumber(%q) = %v, want %v", tc.code, got, tc.ok)
		}
	}
}
