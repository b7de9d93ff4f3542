package persons_test

import (
	"testing"

	"github.com/liaison-exchange/liaison/server/persons"
)

// One number each, written the ways officers of the countries along the
// routes write them — national format with its trunk prefix, with and
// without separators, international with spaces or a 00 prefix — comes
// out as one E.164 number, and normalising again changes nothing.
func TestE164_NationalFormatsOfSeveralCountries(t *testing.T) {
	tests := []struct {
		want    string
		written []struct{ number, region string }
	}{
		{"+66812345678", []struct{ number, region string }{ // Thailand, mobile
			{"081-234-5678", "TH"}, {"(08) 1234 5678", "TH"}, {"+66 81 234 5678", ""}, {"+66 081 234 5678", ""}},
		},
		{"+84912345678", []struct{ number, region string }{ // Viet Nam, mobile
			{"091 234 5678", "VN"}, {"0912.345.678", "VN"}, {"+84 91 234 56 78", ""}, {"0084 912 345 678", "GB"}},
		// (From Thailand, 0084… is not Viet Nam: 001–009 are Thai
		// international prefixes, so "008" + "4…" dials +4….)
		},
		{"+60123456789", []struct{ number, region string }{ // Malaysia, mobile
			{"012-345 6789", "MY"}, {"+60 12-345 6789", ""}, {"60123456789", "MY"}},
		},
		{"+8613812345678", []struct{ number, region string }{ // China, mobile (no trunk prefix)
			{"138 1234 5678", "CN"}, {"+86 138-1234-5678", ""}, {"0086 13812345678", "DE"}},
		},
		{"+447911123456", []struct{ number, region string }{ // United Kingdom, mobile
			{"07911 123456", "GB"}, {"+44 (0)7911 123456", ""}, {"+44 7911 123 456", ""}},
		},
		{"+390612345678", []struct{ number, region string }{ // Italy, Rome landline: the 0 stays
			{"06 1234 5678", "IT"}, {"+39 06 1234 5678", ""}},
		},
	}
	for _, tc := range tests {
		for _, w := range tc.written {
			got, err := persons.E164(w.number, w.region)
			if err != nil || got != tc.want {
				t.Errorf("E164(%q, %q) = %q, %v; want %q", w.number, w.region, got, err, tc.want)
				continue
			}
			if again, err := persons.E164(got, ""); err != nil || again != got {
				t.Errorf("E164(%q) again = %q, %v; want it unchanged", got, again, err)
			}
		}
	}
}

func TestE164_Refuses(t *testing.T) {
	for _, tc := range []struct{ number, region string }{
		{"081 234 5678", ""}, // national format without a region
		{"+66 12", ""},       // too short to be a number
		{"call me", "TH"},    // not a number
		{"+999 1234567", ""}, // no such country code
		{"", "TH"},           // empty
	} {
		if got, err := persons.E164(tc.number, tc.region); err == nil {
			t.Errorf("E164(%q, %q) = %q, want an error", tc.number, tc.region, got)
		}
	}
}
