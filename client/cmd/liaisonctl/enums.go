package main

import (
	"fmt"
	"strings"
	"unicode"

	"google.golang.org/protobuf/reflect/protoreflect"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// protoEnum is a generated enum type.
type protoEnum interface {
	~int32
	protoreflect.Enum
}

// crimeAreaNames are the short names of crime areas on the command line
// and in tables; the proto names are long.
var crimeAreaNames = map[liaisonv1.CrimeArea]string{
	liaisonv1.CrimeArea_CRIME_AREA_MIGRANT_SMUGGLING:           "migrant-smuggling",
	liaisonv1.CrimeArea_CRIME_AREA_TRAFFICKING_IN_HUMAN_BEINGS: "trafficking",
	liaisonv1.CrimeArea_CRIME_AREA_DOCUMENT_FRAUD:              "document-fraud",
	liaisonv1.CrimeArea_CRIME_AREA_TELECOM_AND_ONLINE_FRAUD:    "telecom-fraud",
	liaisonv1.CrimeArea_CRIME_AREA_MONEY_LAUNDERING:            "money-laundering",
	liaisonv1.CrimeArea_CRIME_AREA_OTHER:                       "other",
}

func crimeAreaName(a liaisonv1.CrimeArea) string { return namedOrEnum(crimeAreaNames, a) }

// namedOrEnum is v's name in names, else enumName's.
func namedOrEnum[E protoEnum](names map[E]string, v E) string {
	if n, ok := names[v]; ok {
		return n
	}
	return enumName(v)
}

// enumName is the short name of an enum value: without the type's
// prefix, lower case, words joined by dashes (LEAD_STATUS_RELEASED →
// "released"); "-" for the zero value.
func enumName[E protoEnum](v E) string {
	if v == 0 {
		return "-"
	}
	return shortName(v.Descriptor(), v.Number())
}

// enumSuffix is a value's name without the type's prefix, as written in
// the proto (SOURCE_RELIABILITY_B → "B"); "?" for the zero value.
func enumSuffix[E protoEnum](v E) string {
	if v == 0 {
		return "?"
	}
	ed := v.Descriptor()
	vd := ed.Values().ByNumber(v.Number())
	if vd == nil {
		return fmt.Sprint(int32(v))
	}
	return strings.TrimPrefix(string(vd.Name()), enumPrefix(ed))
}

func shortName(ed protoreflect.EnumDescriptor, n protoreflect.EnumNumber) string {
	vd := ed.Values().ByNumber(n)
	if vd == nil {
		return fmt.Sprint(int32(n))
	}
	s := strings.TrimPrefix(string(vd.Name()), enumPrefix(ed))
	return strings.ToLower(strings.ReplaceAll(s, "_", "-"))
}

// enumPrefix is the prefix the style guide puts on every value of an enum:
// its name in upper snake case (LeadStatus → "LEAD_STATUS_").
func enumPrefix(ed protoreflect.EnumDescriptor) string {
	var b strings.Builder
	for i, r := range string(ed.Name()) {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	b.WriteByte('_')
	return b.String()
}

// parseEnum reads an enum value given as its short name (name, if not
// nil, else enumName), or its proto name with or without the prefix, in
// any case and with dashes or underscores. The zero value is refused.
func parseEnum[E protoEnum](s string, name func(E) string) (E, error) {
	if name == nil {
		name = enumName[E]
	}
	norm := func(s string) string { return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "_")) }
	want := norm(s)
	var zero E
	ed := zero.Descriptor()
	prefix := enumPrefix(ed)
	var valid []string
	values := ed.Values()
	for i := range values.Len() {
		vd := values.Get(i)
		if vd.Number() == 0 {
			continue
		}
		v := E(vd.Number())
		full := string(vd.Name())
		if want == norm(name(v)) || want == full || prefix+want == full {
			return v, nil
		}
		valid = append(valid, name(v))
	}
	return 0, fmt.Errorf("%q is not one of %s", s, strings.Join(valid, ", "))
}
