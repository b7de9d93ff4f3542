// Package persons normalises the persons of every record kind before they
// are stored: phone numbers to E.164, document numbers to upper case
// without separators, and a stable id for each person.
package persons

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/ids"
)

// Normalize rewrites p in place and reports what cannot be normalised.
// path is the field path of p in its request ("lead.subjects[2]").
func Normalize(p *liaisonv1.Person, path string) []errs.FieldViolation {
	var vs []errs.FieldViolation
	if p.GetId() == "" {
		p.Id = ids.New()
	} else if !ids.Valid(p.GetId()) {
		vs = append(vs, errs.FieldViolation{Field: path + ".id", Description: "must be a UUID (or empty to assign one)"})
	}
	for i, ph := range p.GetPhoneNumbers() {
		e164, err := E164(ph.GetNumber(), ph.GetRegion())
		if err != nil {
			vs = append(vs, errs.FieldViolation{Field: fmt.Sprintf("%s.phone_numbers[%d].number", path, i), Description: err.Error()})
			continue
		}
		ph.Number, ph.Region = e164, ""
	}
	for i, d := range p.GetDocuments() {
		n := DocumentNumber(d.GetNumber())
		if n == "" {
			vs = append(vs, errs.FieldViolation{Field: fmt.Sprintf("%s.documents[%d].number", path, i), Description: "has no letters or digits"})
			continue
		}
		d.Number = n
	}
	return vs
}

// E164 normalises a phone number written in international format, or in
// the national format of region (ISO 3166-1 alpha-2), to E.164. It is
// idempotent: E164(E164(x)) == E164(x).
func E164(number, region string) (string, error) {
	n, leadingZero, err := e164Once(number, region)
	if err != nil {
		return "", err
	}
	if !leadingZero {
		return n, nil
	}
	// Leading zeros kept after the country code ("+66 081…") are dropped one
	// parse at a time; settle on the fixed point, or refuse a number that
	// does not settle.
	for i := 0; i < 8; i++ {
		next, _, err := e164Once(n, "")
		if err != nil {
			return "", fmt.Errorf("%q is not a possible phone number", number)
		}
		if next == n {
			return n, nil
		}
		n = next
	}
	return "", fmt.Errorf("%q is not a possible phone number", number)
}

// e164Once parses a number once; leadingZero reports a national number
// with a leading zero, the one case a second parse can change.
func e164Once(number, region string) (string, bool, error) {
	n := strings.TrimSpace(number)
	if !strings.HasPrefix(n, "+") && region == "" {
		return "", false, fmt.Errorf("%q is not in international format (+…); give its region", number)
	}
	pn, err := phonenumbers.Parse(n, strings.ToUpper(region))
	if err != nil {
		return "", false, fmt.Errorf("%q is not a phone number: %v", number, err)
	}
	if !phonenumbers.IsPossibleNumber(pn) {
		return "", false, fmt.Errorf("%q is not a possible phone number", number)
	}
	return phonenumbers.Format(pn, phonenumbers.E164), pn.GetItalianLeadingZero(), nil
}

// DocumentNumber is a document number in upper case, without spaces,
// dashes or other separators.
func DocumentNumber(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}
