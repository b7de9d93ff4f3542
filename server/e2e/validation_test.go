package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// vldLead is a lead that uses every field with a rule, validly. Each case
// below breaks exactly one rule of a copy of it.
func vldLead() *liaisonv1.Lead {
	return &liaisonv1.Lead{
		Title:      "Kupang boat network",
		Summary:    "Recruiter advertises sea crossings on messaging apps; forged CHN passports.",
		CrimeAreas: []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_MIGRANT_SMUGGLING, liaisonv1.CrimeArea_CRIME_AREA_DOCUMENT_FRAUD},
		Subjects: []*liaisonv1.Person{{
			Names: []*liaisonv1.PersonName{
				{FamilyName: "王", GivenNames: "小明", LatinFamilyName: "Wang", LatinGivenNames: "Xiaoming"},
				{FamilyName: "Wong", GivenNames: "Siu Ming"},
			},
			Aliases:       []string{"Ah Ming", "Boss W"},
			DateOfBirth:   &liaisonv1.Date{Year: 1980, Month: 5, Day: 17},
			Sex:           liaisonv1.Sex_SEX_MALE,
			Nationalities: []string{"CHN", "THA"},
			Documents: []*liaisonv1.IdentityDocument{{
				Type: liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: "E1234567", IssuingCountry: "CHN",
				Expiry: &liaisonv1.Date{Year: 2030, Month: 1, Day: 31},
			}},
			PhoneNumbers: []*liaisonv1.PhoneNumber{{Number: "+66812345678"}, {Number: "0812345679", Region: "TH"}},
			Role:         liaisonv1.NetworkRole_NETWORK_ROLE_RECRUITER,
		}},
		Locations: []*liaisonv1.Location{{Name: "Kupang", Country: "IDN"}, {Name: "Open sea"}},
		Routes: []*liaisonv1.Route{{
			Stops:       []*liaisonv1.Location{{Name: "Kupang", Country: "IDN"}, {Name: "Ashmore Reef", Country: "AUS"}},
			Mode:        liaisonv1.TransportMode_TRANSPORT_MODE_SEA,
			Description: "Night departures on fishing boats",
		}},
		OriginatorReference: "ALPHA-2024-0042",
		Evaluation: &liaisonv1.Evaluation{
			SourceReliability:   liaisonv1.SourceReliability_SOURCE_RELIABILITY_B,
			InformationAccuracy: liaisonv1.InformationAccuracy_INFORMATION_ACCURACY_2,
		},
		Handling:   &liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H3, Conditions: "Not for immigration decisions"},
		ReviewDate: &liaisonv1.Date{Year: 2030, Month: 12, Day: 31},
	}
}

// wantViolation asserts err is INVALID_ARGUMENT with a BadRequest field
// violation at field, and no violation elsewhere (outside field's subtree
// or its parents): the request had no other defect.
func wantViolation(t *testing.T, err error, field string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("got %v (%v), want InvalidArgument at %q", st.Code(), err, field)
	}
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	if !slices.Contains(fields, field) {
		t.Errorf("no field violation at %q; violations at %q (%s)", field, fields, st.Message())
	}
	related := func(a, b string) bool {
		return a == b || strings.HasPrefix(a, b+".") || strings.HasPrefix(a, b+"[") || strings.HasPrefix(b, a+".") || strings.HasPrefix(b, a+"[")
	}
	for _, f := range fields {
		if !related(f, field) {
			t.Errorf("a violation at %q besides %q: the request had another defect (%s)", f, field, st.Message())
		}
	}
}

func vldRepeat(s string, count int) string { return strings.Repeat(s, count) }

func subject0(r *liaisonv1.Lead) *liaisonv1.Person { return r.Subjects[0] }

// leadRule is one broken rule of a lead, with the path of its violation
// below "lead".
type leadRule struct {
	name   string
	breaks func(l *liaisonv1.Lead)
	field  string
}

var leadRules = []leadRule{
	// Lead
	{"TitleEmpty", func(l *liaisonv1.Lead) { l.Title = "" }, "lead.title"},
	{"TitleTooLong", func(l *liaisonv1.Lead) { l.Title = vldRepeat("a", 201) }, "lead.title"},
	{"TitleTooLongThai", func(l *liaisonv1.Lead) { l.Title = vldRepeat("ก", 201) }, "lead.title"},
	{"SummaryTooLong", func(l *liaisonv1.Lead) { l.Summary = vldRepeat("s", 20001) }, "lead.summary"},
	{"NoSubjectNoSummary", func(l *liaisonv1.Lead) { l.Summary, l.Subjects = "", nil }, "lead"},
	{"CrimeAreasEmpty", func(l *liaisonv1.Lead) { l.CrimeAreas = nil }, "lead.crime_areas"},
	{"CrimeAreasTooMany", func(l *liaisonv1.Lead) { l.CrimeAreas = []liaisonv1.CrimeArea{1, 2, 3, 4, 5, 6, 1} }, "lead.crime_areas"},
	{"CrimeAreasDuplicate", func(l *liaisonv1.Lead) { l.CrimeAreas = []liaisonv1.CrimeArea{1, 1} }, "lead.crime_areas"},
	{"CrimeAreaUnspecified", func(l *liaisonv1.Lead) { l.CrimeAreas = []liaisonv1.CrimeArea{0} }, "lead.crime_areas[0]"},
	{"CrimeAreaUndefined", func(l *liaisonv1.Lead) { l.CrimeAreas = []liaisonv1.CrimeArea{1, 99} }, "lead.crime_areas[1]"},
	{"SubjectsTooMany", func(l *liaisonv1.Lead) { l.Subjects = repeatMsg(l.Subjects[0], 101) }, "lead.subjects"},
	{"LocationsTooMany", func(l *liaisonv1.Lead) { l.Locations = repeatMsg(l.Locations[0], 51) }, "lead.locations"},
	{"RoutesTooMany", func(l *liaisonv1.Lead) { l.Routes = repeatMsg(l.Routes[0], 21) }, "lead.routes"},
	{"OriginatorReferenceTooLong", func(l *liaisonv1.Lead) { l.OriginatorReference = vldRepeat("r", 101) }, "lead.originator_reference"},
	{"EvaluationMissing", func(l *liaisonv1.Lead) { l.Evaluation = nil }, "lead.evaluation"},
	{"SourceReliabilityUnspecified", func(l *liaisonv1.Lead) { l.Evaluation.SourceReliability = 0 }, "lead.evaluation.source_reliability"},
	{"SourceReliabilityUndefined", func(l *liaisonv1.Lead) { l.Evaluation.SourceReliability = 99 }, "lead.evaluation.source_reliability"},
	{"InformationAccuracyUnspecified", func(l *liaisonv1.Lead) { l.Evaluation.InformationAccuracy = 0 }, "lead.evaluation.information_accuracy"},
	{"InformationAccuracyUndefined", func(l *liaisonv1.Lead) { l.Evaluation.InformationAccuracy = 5 }, "lead.evaluation.information_accuracy"},
	{"HandlingMissing", func(l *liaisonv1.Lead) { l.Handling = nil }, "lead.handling"},
	{"HandlingCodeUnspecified", func(l *liaisonv1.Lead) { l.Handling = &liaisonv1.Handling{} }, "lead.handling.code"},
	{"HandlingCodeUndefined", func(l *liaisonv1.Lead) { l.Handling = &liaisonv1.Handling{Code: 99} }, "lead.handling.code"},
	{"HandlingH3WithoutConditions", func(l *liaisonv1.Lead) { l.Handling.Conditions = "" }, "lead.handling"},
	{"HandlingConditionsTooLong", func(l *liaisonv1.Lead) { l.Handling.Conditions = vldRepeat("c", 1001) }, "lead.handling.conditions"},
	{"ReviewDateYearOnly", func(l *liaisonv1.Lead) { l.ReviewDate = &liaisonv1.Date{Year: 2030} }, "lead.review_date"},
	{"ReviewDateWithoutDay", func(l *liaisonv1.Lead) { l.ReviewDate = &liaisonv1.Date{Year: 2030, Month: 6} }, "lead.review_date"},
	{"ReviewDateFeb30", func(l *liaisonv1.Lead) { l.ReviewDate = &liaisonv1.Date{Year: 2030, Month: 2, Day: 30} }, "lead.review_date"},
	{"ReviewDateYearTooEarly", func(l *liaisonv1.Lead) { l.ReviewDate = &liaisonv1.Date{Year: 1899, Month: 1, Day: 1} }, "lead.review_date.year"},
	{"ReviewDateYearTooLate", func(l *liaisonv1.Lead) { l.ReviewDate = &liaisonv1.Date{Year: 2201, Month: 1, Day: 1} }, "lead.review_date.year"},
	{"ReviewDateMonth13", func(l *liaisonv1.Lead) { l.ReviewDate = &liaisonv1.Date{Year: 2030, Month: 13, Day: 1} }, "lead.review_date.month"},
	{"ReviewDateMonthNegative", func(l *liaisonv1.Lead) { l.ReviewDate = &liaisonv1.Date{Year: 2030, Month: -1, Day: 1} }, "lead.review_date.month"},
	{"ReviewDateDay32", func(l *liaisonv1.Lead) { l.ReviewDate = &liaisonv1.Date{Year: 2030, Month: 1, Day: 32} }, "lead.review_date.day"},

	// Person
	{"PersonIdNotUUID", func(l *liaisonv1.Lead) { subject0(l).Id = "person-1" }, "lead.subjects[0].id"},
	{"NamesEmpty", func(l *liaisonv1.Lead) { subject0(l).Names = nil }, "lead.subjects[0].names"},
	{"NamesTooMany", func(l *liaisonv1.Lead) { subject0(l).Names = repeatMsg(subject0(l).Names[1], 21) }, "lead.subjects[0].names"},
	{"AliasesTooMany", func(l *liaisonv1.Lead) { subject0(l).Aliases = slices.Repeat([]string{"x"}, 21) }, "lead.subjects[0].aliases"},
	{"AliasEmpty", func(l *liaisonv1.Lead) { subject0(l).Aliases = []string{"Ah Ming", ""} }, "lead.subjects[0].aliases[1]"},
	{"AliasTooLong", func(l *liaisonv1.Lead) { subject0(l).Aliases = []string{vldRepeat("a", 201)} }, "lead.subjects[0].aliases[0]"},
	{"DateOfBirthFeb30", func(l *liaisonv1.Lead) { subject0(l).DateOfBirth = &liaisonv1.Date{Year: 2000, Month: 2, Day: 30} }, "lead.subjects[0].date_of_birth"},
	{"DateOfBirthFeb29NonLeapYear", func(l *liaisonv1.Lead) { subject0(l).DateOfBirth = &liaisonv1.Date{Year: 2023, Month: 2, Day: 29} }, "lead.subjects[0].date_of_birth"},
	{"DateOfBirthFeb29Century", func(l *liaisonv1.Lead) { subject0(l).DateOfBirth = &liaisonv1.Date{Year: 1900, Month: 2, Day: 29} }, "lead.subjects[0].date_of_birth"},
	{"DateOfBirthApr31", func(l *liaisonv1.Lead) { subject0(l).DateOfBirth = &liaisonv1.Date{Year: 1990, Month: 4, Day: 31} }, "lead.subjects[0].date_of_birth"},
	{"DateOfBirthDayWithoutMonth", func(l *liaisonv1.Lead) { subject0(l).DateOfBirth = &liaisonv1.Date{Year: 1990, Day: 15} }, "lead.subjects[0].date_of_birth"},
	{"DateOfBirthYearTooEarly", func(l *liaisonv1.Lead) { subject0(l).DateOfBirth = &liaisonv1.Date{Year: 1899} }, "lead.subjects[0].date_of_birth.year"},
	{"DateOfBirthMonth13", func(l *liaisonv1.Lead) { subject0(l).DateOfBirth = &liaisonv1.Date{Year: 1990, Month: 13} }, "lead.subjects[0].date_of_birth.month"},
	{"DateOfBirthMonth13WithDay", func(l *liaisonv1.Lead) { subject0(l).DateOfBirth = &liaisonv1.Date{Year: 1990, Month: 13, Day: 2} }, "lead.subjects[0].date_of_birth.month"},
	{"DateOfBirthDay32", func(l *liaisonv1.Lead) { subject0(l).DateOfBirth = &liaisonv1.Date{Year: 1990, Month: 1, Day: 32} }, "lead.subjects[0].date_of_birth.day"},
	{"SexUndefined", func(l *liaisonv1.Lead) { subject0(l).Sex = 99 }, "lead.subjects[0].sex"},
	{"NationalitiesTooMany", func(l *liaisonv1.Lead) {
		subject0(l).Nationalities = []string{"CHN", "THA", "IDN", "AUS", "MYS", "VNM"}
	}, "lead.subjects[0].nationalities"},
	{"NationalitiesDuplicate", func(l *liaisonv1.Lead) { subject0(l).Nationalities = []string{"THA", "THA"} }, "lead.subjects[0].nationalities"},
	{"NationalityLowerCase", func(l *liaisonv1.Lead) { subject0(l).Nationalities = []string{"CHN", "tha"} }, "lead.subjects[0].nationalities[1]"},
	{"NationalityAlpha2", func(l *liaisonv1.Lead) { subject0(l).Nationalities = []string{"TH"} }, "lead.subjects[0].nationalities[0]"},
	{"DocumentsTooMany", func(l *liaisonv1.Lead) { subject0(l).Documents = repeatMsg(subject0(l).Documents[0], 11) }, "lead.subjects[0].documents"},
	{"DocumentTypeUnspecified", func(l *liaisonv1.Lead) { subject0(l).Documents[0].Type = 0 }, "lead.subjects[0].documents[0].type"},
	{"DocumentTypeUndefined", func(l *liaisonv1.Lead) { subject0(l).Documents[0].Type = 99 }, "lead.subjects[0].documents[0].type"},
	{"DocumentNumberEmpty", func(l *liaisonv1.Lead) { subject0(l).Documents[0].Number = "" }, "lead.subjects[0].documents[0].number"},
	{"DocumentNumberTooLong", func(l *liaisonv1.Lead) { subject0(l).Documents[0].Number = vldRepeat("9", 41) }, "lead.subjects[0].documents[0].number"},
	{"DocumentNumberOnlySeparators", func(l *liaisonv1.Lead) { subject0(l).Documents[0].Number = "- / -" }, "lead.subjects[0].documents[0].number"},
	{"DocumentIssuingCountryAlpha2", func(l *liaisonv1.Lead) { subject0(l).Documents[0].IssuingCountry = "CN" }, "lead.subjects[0].documents[0].issuing_country"},
	{"DocumentIssuingCountryLowerCase", func(l *liaisonv1.Lead) { subject0(l).Documents[0].IssuingCountry = "chn" }, "lead.subjects[0].documents[0].issuing_country"},
	{"DocumentIssuingCountryEmpty", func(l *liaisonv1.Lead) { subject0(l).Documents[0].IssuingCountry = "" }, "lead.subjects[0].documents[0].issuing_country"},
	{"DocumentExpiryYearOnly", func(l *liaisonv1.Lead) { subject0(l).Documents[0].Expiry = &liaisonv1.Date{Year: 2030} }, "lead.subjects[0].documents[0].expiry"},
	{"DocumentExpiryWithoutDay", func(l *liaisonv1.Lead) { subject0(l).Documents[0].Expiry = &liaisonv1.Date{Year: 2030, Month: 4} }, "lead.subjects[0].documents[0].expiry"},
	{"DocumentExpiryFeb30", func(l *liaisonv1.Lead) {
		subject0(l).Documents[0].Expiry = &liaisonv1.Date{Year: 2030, Month: 2, Day: 30}
	}, "lead.subjects[0].documents[0].expiry"},
	{"PhoneNumbersTooMany", func(l *liaisonv1.Lead) { subject0(l).PhoneNumbers = repeatMsg(subject0(l).PhoneNumbers[0], 11) }, "lead.subjects[0].phone_numbers"},
	{"PhoneNumberTooShort", func(l *liaisonv1.Lead) { subject0(l).PhoneNumbers[0].Number = "12" }, "lead.subjects[0].phone_numbers[0].number"},
	{"PhoneNumberTooLong", func(l *liaisonv1.Lead) { subject0(l).PhoneNumbers[0].Number = "+" + vldRepeat("1", 40) }, "lead.subjects[0].phone_numbers[0].number"},
	{"PhoneNumberLetters", func(l *liaisonv1.Lead) { subject0(l).PhoneNumbers[0].Number = "+66 81 CALL ME" }, "lead.subjects[0].phone_numbers[0].number"},
	{"PhoneRegionLowerCase", func(l *liaisonv1.Lead) { subject0(l).PhoneNumbers[1].Region = "th" }, "lead.subjects[0].phone_numbers[1].region"},
	{"PhoneRegionAlpha3", func(l *liaisonv1.Lead) { subject0(l).PhoneNumbers[1].Region = "THA" }, "lead.subjects[0].phone_numbers[1].region"},
	{"PhoneNationalWithoutRegion", func(l *liaisonv1.Lead) {
		subject0(l).PhoneNumbers[0] = &liaisonv1.PhoneNumber{Number: "081-234-5678"}
	}, "lead.subjects[0].phone_numbers[0].number"},
	{"PhoneImpossible", func(l *liaisonv1.Lead) { subject0(l).PhoneNumbers[0].Number = "+66 12" }, "lead.subjects[0].phone_numbers[0].number"},
	{"PhoneUnknownCountryCode", func(l *liaisonv1.Lead) { subject0(l).PhoneNumbers[0].Number = "+999 1234 5678" }, "lead.subjects[0].phone_numbers[0].number"},
	{"NetworkRoleUndefined", func(l *liaisonv1.Lead) { subject0(l).Role = 99 }, "lead.subjects[0].role"},
	{"SecondSubjectBroken", func(l *liaisonv1.Lead) {
		p := proto.Clone(subject0(l)).(*liaisonv1.Person)
		p.Names = []*liaisonv1.PersonName{{FamilyName: "Иванов"}}
		l.Subjects = append(l.Subjects, p)
	}, "lead.subjects[1].names[0]"},

	// PersonName
	{"NameEmpty", func(l *liaisonv1.Lead) { subject0(l).Names[1] = &liaisonv1.PersonName{} }, "lead.subjects[0].names[1]"},
	{"NameOnlyTransliteration", func(l *liaisonv1.Lead) {
		subject0(l).Names[0] = &liaisonv1.PersonName{LatinFamilyName: "Wang"}
	}, "lead.subjects[0].names[0]"},
	{"NameBlank", func(l *liaisonv1.Lead) {
		subject0(l).Names[1] = &liaisonv1.PersonName{FamilyName: "  ", GivenNames: "\t"}
	}, "lead.subjects[0].names[1]"},
	{"NameOnlyPunctuation", func(l *liaisonv1.Lead) {
		subject0(l).Names[1] = &liaisonv1.PersonName{FamilyName: "-", GivenNames: "?"}
	}, "lead.subjects[0].names[1]"},
	{"NameChineseWithoutTransliteration", func(l *liaisonv1.Lead) {
		subject0(l).Names[0] = &liaisonv1.PersonName{FamilyName: "王", GivenNames: "小明"}
	}, "lead.subjects[0].names[0]"},
	{"NameThaiWithoutTransliteration", func(l *liaisonv1.Lead) {
		subject0(l).Names[0] = &liaisonv1.PersonName{FamilyName: "ใจดี", GivenNames: "สมชาย"}
	}, "lead.subjects[0].names[0]"},
	{"NameCyrillicWithoutTransliteration", func(l *liaisonv1.Lead) {
		subject0(l).Names[0] = &liaisonv1.PersonName{FamilyName: "Иванов"}
	}, "lead.subjects[0].names[0]"},
	{"NameMixedScriptWithoutTransliteration", func(l *liaisonv1.Lead) {
		subject0(l).Names[0] = &liaisonv1.PersonName{FamilyName: "Wang", GivenNames: "小明"}
	}, "lead.subjects[0].names[0]"},
	{"NameTransliterationBlank", func(l *liaisonv1.Lead) {
		subject0(l).Names[0] = &liaisonv1.PersonName{FamilyName: "王", LatinFamilyName: " "}
	}, "lead.subjects[0].names[0]"},
	{"NameTransliterationOnlyPunctuation", func(l *liaisonv1.Lead) {
		subject0(l).Names[0] = &liaisonv1.PersonName{FamilyName: "王", LatinFamilyName: "-", LatinGivenNames: "."}
	}, "lead.subjects[0].names[0]"},
	{"TransliterationJapanese", func(l *liaisonv1.Lead) {
		subject0(l).Names[0] = &liaisonv1.PersonName{FamilyName: "王", LatinFamilyName: "ワン"}
	}, "lead.subjects[0].names[0]"},
	{"TransliterationCyrillic", func(l *liaisonv1.Lead) {
		subject0(l).Names[0] = &liaisonv1.PersonName{FamilyName: "王", LatinFamilyName: "Wang", LatinGivenNames: "Сяомин"}
	}, "lead.subjects[0].names[0]"},
	{"FamilyNameTooLong", func(l *liaisonv1.Lead) { subject0(l).Names[1].FamilyName = vldRepeat("w", 201) }, "lead.subjects[0].names[1].family_name"},
	{"GivenNamesTooLong", func(l *liaisonv1.Lead) { subject0(l).Names[1].GivenNames = vldRepeat("g", 201) }, "lead.subjects[0].names[1].given_names"},
	{"LatinFamilyNameTooLong", func(l *liaisonv1.Lead) { subject0(l).Names[0].LatinFamilyName = vldRepeat("w", 201) }, "lead.subjects[0].names[0].latin_family_name"},
	{"LatinGivenNamesTooLong", func(l *liaisonv1.Lead) { subject0(l).Names[0].LatinGivenNames = vldRepeat("x", 201) }, "lead.subjects[0].names[0].latin_given_names"},

	// Location and Route
	{"LocationNameEmpty", func(l *liaisonv1.Lead) { l.Locations[1].Name = "" }, "lead.locations[1].name"},
	{"LocationNameTooLong", func(l *liaisonv1.Lead) { l.Locations[0].Name = vldRepeat("k", 201) }, "lead.locations[0].name"},
	{"LocationCountryAlpha2", func(l *liaisonv1.Lead) { l.Locations[0].Country = "ID" }, "lead.locations[0].country"},
	{"RouteOneStop", func(l *liaisonv1.Lead) { l.Routes[0].Stops = l.Routes[0].Stops[:1] }, "lead.routes[0].stops"},
	{"RouteTooManyStops", func(l *liaisonv1.Lead) { l.Routes[0].Stops = repeatMsg(l.Routes[0].Stops[0], 21) }, "lead.routes[0].stops"},
	{"RouteStopNameEmpty", func(l *liaisonv1.Lead) { l.Routes[0].Stops[1].Name = "" }, "lead.routes[0].stops[1].name"},
	{"RouteStopCountryBad", func(l *liaisonv1.Lead) { l.Routes[0].Stops[1].Country = "Australia" }, "lead.routes[0].stops[1].country"},
	{"RouteModeUndefined", func(l *liaisonv1.Lead) { l.Routes[0].Mode = 99 }, "lead.routes[0].mode"},
	{"RouteDescriptionTooLong", func(l *liaisonv1.Lead) { l.Routes[0].Description = vldRepeat("d", 1001) }, "lead.routes[0].description"},
}

func repeatMsg[M proto.Message](m M, count int) []M {
	out := make([]M, count)
	for i := range out {
		out[i] = proto.Clone(m).(M)
	}
	return out
}

// TestValidation_CreateLead sends CreateLead with each single defect, and
// checks afterwards that none of the refused calls left a lead behind.
func TestValidation_CreateLead(t *testing.T) {
	t.Parallel()
	node := startAlpha(t)
	leads := liaisonv1.NewLeadServiceClient(node.Conn(t, "analyst"))
	ctx := context.Background()

	type createCase struct {
		name   string
		breaks func(r *liaisonv1.CreateLeadRequest)
		field  string
	}
	cases := []createCase{
		{"RequestIdNotUUID", func(r *liaisonv1.CreateLeadRequest) { r.RequestId = "retry-1" }, "request_id"},
		{"LeadMissing", func(r *liaisonv1.CreateLeadRequest) { r.Lead = nil }, "lead"},
	}
	for _, lr := range leadRules {
		cases = append(cases, createCase{lr.name, func(r *liaisonv1.CreateLeadRequest) { lr.breaks(r.Lead) }, lr.field})
	}
	t.Run("Rejects", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				req := &liaisonv1.CreateLeadRequest{Lead: vldLead(), RequestId: "0190f1c2-0000-7000-8000-0000000000c1"}
				tc.breaks(req)
				_, err := leads.CreateLead(ctx, req)
				wantViolation(t, err, tc.field)
			})
		}
	})

	list, err := leads.ListLeads(ctx, &liaisonv1.ListLeadsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(list.GetLeads()); got != 0 {
		t.Errorf("after %d refused creates there are %d leads, want none", len(cases), got)
		for _, l := range list.GetLeads() {
			t.Logf("left behind: %q %v", l.GetTitle(), l.GetSubjects())
		}
	}

	// The same request without its defect goes through, with the same
	// request_id: the refused attempts did not claim it.
	if len(list.GetLeads()) > 0 {
		return // a create that should have been refused claimed it
	}
	if _, err := leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: vldLead(), RequestId: "0190f1c2-0000-7000-8000-0000000000c1"}); err != nil {
		t.Fatalf("the valid base request: %v", err)
	}
}

// TestValidation_UpdateLead: the merged lead of an update is held to the
// same rules as a new one, the update itself to its own; a refused update
// changes nothing. Each case updates a lead of its own, so one wrongly
// accepted update cannot turn the others into stale-etag failures.
func TestValidation_UpdateLead(t *testing.T) {
	t.Parallel()
	node := startAlpha(t)
	leads := liaisonv1.NewLeadServiceClient(node.Conn(t, "analyst"))
	ctx := context.Background()

	// An update case edits a copy of the current lead (whose subjects are
	// replaced by vldLead's, as a client would send them) and names paths
	// in the mask; nil paths means no update_mask at all.
	type updateCase struct {
		name  string
		edit  func(req *liaisonv1.UpdateLeadRequest)
		paths []string
		field string
	}
	keep := func(*liaisonv1.UpdateLeadRequest) {}
	lead := func(f func(*liaisonv1.Lead)) func(*liaisonv1.UpdateLeadRequest) {
		return func(r *liaisonv1.UpdateLeadRequest) { f(r.Lead) }
	}
	cases := []updateCase{
		{"UpdateMaskMissing", keep, nil, "update_mask"},
		{"UpdateMaskEmpty", keep, []string{}, "update_mask"},
		{"UpdateMaskStatus", lead(func(l *liaisonv1.Lead) { l.Status = liaisonv1.LeadStatus_LEAD_STATUS_RELEASED }), []string{"status"}, "update_mask.paths[0]"},
		{"UpdateMaskReleasedTo", lead(func(l *liaisonv1.Lead) { l.ReleasedTo = []string{"bravo"} }), []string{"title", "released_to"}, "update_mask.paths[1]"},
		{"UpdateMaskOriginAgency", lead(func(l *liaisonv1.Lead) { l.OriginAgency = "bravo" }), []string{"origin_agency"}, "update_mask.paths[0]"},
		{"UpdateMaskCreatedBy", lead(func(l *liaisonv1.Lead) { l.CreatedBy = "spiffe://alpha.liaison.test/analyst/mallory" }), []string{"created_by"}, "update_mask.paths[0]"},
		{"UpdateMaskVersion", keep, []string{"version"}, "update_mask.paths[0]"},
		{"UpdateMaskUnknownField", keep, []string{"colour"}, "update_mask.paths[0]"},
		{"UpdateMaskNestedPath", keep, []string{"evaluation.source_reliability"}, "update_mask.paths[0]"},
		{"LeadMissing", func(r *liaisonv1.UpdateLeadRequest) { r.Lead = nil }, []string{"title"}, "lead"},
		{"LeadIdNotUUID", lead(func(l *liaisonv1.Lead) { l.Id = "lead-1" }), []string{"title"}, "lead.id"},
		{"EtagMissing", lead(func(l *liaisonv1.Lead) { l.Etag = "" }), []string{"title"}, "lead.etag"},
		{"ClearSubjectsAndSummary", lead(func(l *liaisonv1.Lead) { l.Subjects, l.Summary = nil, "" }), []string{"subjects", "summary"}, "lead"},
	}
	// Every lead rule, applied through the update mask naming the field
	// it breaks (the top-level field of its path).
	for _, lr := range leadRules {
		top := strings.TrimPrefix(lr.field, "lead.")
		top, _, _ = strings.Cut(top, ".")
		top, _, _ = strings.Cut(top, "[")
		if top == "lead" {
			continue // lead-wide rules are covered above
		}
		cases = append(cases, updateCase{lr.name, lead(lr.breaks), []string{top}, lr.field})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			created, err := leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: vldLead()})
			if err != nil {
				t.Fatal(err)
			}
			cur := created.GetLead()
			patch := proto.Clone(cur).(*liaisonv1.Lead)
			patch.Subjects = vldLead().Subjects
			req := &liaisonv1.UpdateLeadRequest{Lead: patch}
			if tc.paths != nil {
				req.UpdateMask = &fieldmaskpb.FieldMask{Paths: tc.paths}
			}
			tc.edit(req)
			_, err = leads.UpdateLead(ctx, req)
			wantViolation(t, err, tc.field)

			got, err := leads.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: cur.GetId()})
			if err != nil {
				t.Fatal(err)
			}
			if got.GetLead().GetVersion() != cur.GetVersion() {
				t.Errorf("after a refused update the lead is at version %d, want %d", got.GetLead().GetVersion(), cur.GetVersion())
			}
		})
	}
}

// vldCase is one request with one defect, sent by a role that may call it.
type vldCase struct {
	name  string
	call  func(ctx context.Context) error
	field string
}

func runCases(t *testing.T, cases []vldCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wantViolation(t, tc.call(context.Background()), tc.field)
		})
	}
}

// TestValidation_OtherRequests covers the rules of the remaining request
// messages of LeadService and AuditService.
func TestValidation_OtherRequests(t *testing.T) {
	t.Parallel()
	node := startAlpha(t)
	ctx := context.Background()
	analyst := liaisonv1.NewLeadServiceClient(node.Conn(t, "analyst"))
	supervisor := liaisonv1.NewLeadServiceClient(node.Conn(t, "supervisor"))
	auditor := liaisonv1.NewAuditServiceClient(node.Conn(t, "auditor"))
	created, err := analyst.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: vldLead()})
	if err != nil {
		t.Fatal(err)
	}
	id := created.GetLead().GetId()

	get := func(r *liaisonv1.GetLeadRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := analyst.GetLead(ctx, r); return err }
	}
	list := func(r *liaisonv1.ListLeadsRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := analyst.ListLeads(ctx, r); return err }
	}
	release := func(r *liaisonv1.ReleaseLeadRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := supervisor.ReleaseLead(ctx, r); return err }
	}
	withdraw := func(r *liaisonv1.WithdrawLeadRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := supervisor.WithdrawLead(ctx, r); return err }
	}
	receipts := func(r *liaisonv1.ListLeadReceiptsRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := analyst.ListLeadReceipts(ctx, r); return err }
	}
	export := func(r *liaisonv1.ExportLeadsRequest) func(context.Context) error {
		return func(ctx context.Context) error {
			stream, err := analyst.ExportLeads(ctx, r)
			if err != nil {
				return err
			}
			for {
				if _, err := stream.Recv(); err != nil {
					if errors.Is(err, io.EOF) {
						return nil
					}
					return err
				}
			}
		}
	}
	manyIDs := make([]string, 1001)
	for i := range manyIDs {
		manyIDs[i] = fmt.Sprintf("0190f1c2-0000-7000-8000-%012d", i)
	}
	events := func(r *liaisonv1.ListAuditEventsRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := auditor.ListAuditEvents(ctx, r); return err }
	}
	manyPartners := make([]string, 21)
	for i := range manyPartners {
		manyPartners[i] = "agency-" + string(rune('a'+i))
	}
	cases := []vldCase{
		{name: "GetLead/IdEmpty", call: get(&liaisonv1.GetLeadRequest{}), field: "id"},
		{name: "GetLead/IdNotUUID", call: get(&liaisonv1.GetLeadRequest{Id: "lead-1"}), field: "id"},
		{name: "GetLead/IdTruncated", call: get(&liaisonv1.GetLeadRequest{Id: id[:35]}), field: "id"},

		{name: "ListLeads/PageSizeOver1000", call: list(&liaisonv1.ListLeadsRequest{PageSize: 1001}), field: "page_size"},
		{name: "ListLeads/PageSizeNegative", call: list(&liaisonv1.ListLeadsRequest{PageSize: -1}), field: "page_size"},
		{name: "ListLeads/PageTokenTooLong", call: list(&liaisonv1.ListLeadsRequest{PageToken: vldRepeat("t", 513)}), field: "page_token"},
		{name: "ListLeads/PageTokenForged", call: list(&liaisonv1.ListLeadsRequest{PageToken: "not-a-token"}), field: "page_token"},
		{name: "ListLeads/StatusUndefined", call: list(&liaisonv1.ListLeadsRequest{Status: 99}), field: "status"},
		{name: "ListLeads/CrimeAreaUndefined", call: list(&liaisonv1.ListLeadsRequest{CrimeArea: 99}), field: "crime_area"},
		{name: "ListLeads/OriginAgencyUpperCase", call: list(&liaisonv1.ListLeadsRequest{OriginAgency: "Bravo"}), field: "origin_agency"},
		{name: "ListLeads/OriginAgencyTooShort", call: list(&liaisonv1.ListLeadsRequest{OriginAgency: "b"}), field: "origin_agency"},

		{name: "ReleaseLead/IdNotUUID", call: release(&liaisonv1.ReleaseLeadRequest{Id: "lead-1", Partners: []string{"bravo"}}), field: "id"},
		{name: "ReleaseLead/PartnersEmpty", call: release(&liaisonv1.ReleaseLeadRequest{Id: id}), field: "partners"},
		{name: "ReleaseLead/PartnersTooMany", call: release(&liaisonv1.ReleaseLeadRequest{Id: id, Partners: manyPartners}), field: "partners"},
		{name: "ReleaseLead/PartnersDuplicate", call: release(&liaisonv1.ReleaseLeadRequest{Id: id, Partners: []string{"bravo", "bravo"}}), field: "partners"},
		{name: "ReleaseLead/PartnerUpperCase", call: release(&liaisonv1.ReleaseLeadRequest{Id: id, Partners: []string{"Bravo"}}), field: "partners[0]"},
		{name: "ReleaseLead/PartnerTooShort", call: release(&liaisonv1.ReleaseLeadRequest{Id: id, Partners: []string{"bravo", "b"}}), field: "partners[1]"},
		{name: "ReleaseLead/PartnerNotConfigured", call: release(&liaisonv1.ReleaseLeadRequest{Id: id, Partners: []string{"charlie"}}), field: "partners[0]"},
		{name: "ReleaseLead/SecondPartnerNotConfigured", call: release(&liaisonv1.ReleaseLeadRequest{Id: id, Partners: []string{"bravo", "charlie"}}), field: "partners[1]"},
		{name: "ReleaseLead/OwnAgency", call: release(&liaisonv1.ReleaseLeadRequest{Id: id, Partners: []string{"alpha"}}), field: "partners[0]"},
		{name: "ReleaseLead/EtagTooLong", call: release(&liaisonv1.ReleaseLeadRequest{Id: id, Partners: []string{"bravo"}, Etag: vldRepeat("e", 65)}), field: "etag"},

		{name: "WithdrawLead/IdNotUUID", call: withdraw(&liaisonv1.WithdrawLeadRequest{Id: "lead-1", Reason: "r"}), field: "id"},
		{name: "WithdrawLead/ReasonMissing", call: withdraw(&liaisonv1.WithdrawLeadRequest{Id: id}), field: "reason"},
		{name: "WithdrawLead/ReasonBlank", call: withdraw(&liaisonv1.WithdrawLeadRequest{Id: id, Reason: " \t\n "}), field: "reason"},
		{name: "WithdrawLead/ReasonTooLong", call: withdraw(&liaisonv1.WithdrawLeadRequest{Id: id, Reason: vldRepeat("r", 1001)}), field: "reason"},
		{name: "WithdrawLead/EtagTooLong", call: withdraw(&liaisonv1.WithdrawLeadRequest{Id: id, Reason: "r", Etag: vldRepeat("e", 65)}), field: "etag"},

		{name: "ListLeadReceipts/IdEmpty", call: receipts(&liaisonv1.ListLeadReceiptsRequest{}), field: "id"},
		{name: "ListLeadReceipts/IdNotUUID", call: receipts(&liaisonv1.ListLeadReceiptsRequest{Id: "lead-1"}), field: "id"},

		{name: "ExportLeads/IdNotUUID", call: export(&liaisonv1.ExportLeadsRequest{Ids: []string{id, "lead-1"}}), field: "ids[1]"},
		{name: "ExportLeads/IdsDuplicate", call: export(&liaisonv1.ExportLeadsRequest{Ids: []string{id, id}}), field: "ids"},
		{name: "ExportLeads/IdsTooMany", call: export(&liaisonv1.ExportLeadsRequest{Ids: manyIDs}), field: "ids"},
		{name: "ExportLeads/OriginAgencyUpperCase", call: export(&liaisonv1.ExportLeadsRequest{OriginAgency: "Bravo"}), field: "origin_agency"},

		{name: "ListAuditEvents/PageSizeOver1000", call: events(&liaisonv1.ListAuditEventsRequest{PageSize: 1001}), field: "page_size"},
		{name: "ListAuditEvents/PageSizeNegative", call: events(&liaisonv1.ListAuditEventsRequest{PageSize: -5}), field: "page_size"},
		{name: "ListAuditEvents/PageTokenTooLong", call: events(&liaisonv1.ListAuditEventsRequest{PageToken: vldRepeat("t", 513)}), field: "page_token"},
		{name: "ListAuditEvents/PageTokenForged", call: events(&liaisonv1.ListAuditEventsRequest{PageToken: "bm9wZQ"}), field: "page_token"},
		{name: "ListAuditEvents/AgencyTooLong", call: events(&liaisonv1.ListAuditEventsRequest{Agency: vldRepeat("a", 65)}), field: "agency"},
		{name: "ListAuditEvents/PrincipalTooLong", call: events(&liaisonv1.ListAuditEventsRequest{Principal: vldRepeat("p", 513)}), field: "principal"},
		{name: "ListAuditEvents/ActionTooLong", call: events(&liaisonv1.ListAuditEventsRequest{Action: vldRepeat("a", 257)}), field: "action"},
		{name: "ListAuditEvents/ResourceTooLong", call: events(&liaisonv1.ListAuditEventsRequest{Resource: vldRepeat("r", 257)}), field: "resource"},
		{name: "ListAuditEvents/OutcomeTooLong", call: events(&liaisonv1.ListAuditEventsRequest{Outcome: vldRepeat("o", 65)}), field: "outcome"},
	}
	t.Run("Rejects", func(t *testing.T) { runCases(t, cases) })

	got, err := analyst.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	if l := got.GetLead(); l.GetVersion() != 1 || l.GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_DRAFT || len(l.GetReleasedTo()) != 0 {
		t.Errorf("after refused releases and withdrawals the lead is version %d, %v, released to %v", l.GetVersion(), l.GetStatus(), l.GetReleasedTo())
	}
}

// TestValidation_Accepts: values at the edge of a rule that are valid.
func TestValidation_Accepts(t *testing.T) {
	t.Parallel()
	node := startAlpha(t)
	leads := liaisonv1.NewLeadServiceClient(node.Conn(t, "analyst"))
	auditor := liaisonv1.NewAuditServiceClient(node.Conn(t, "auditor"))
	ctx := context.Background()
	tests := []struct {
		name string
		edit func(l *liaisonv1.Lead)
	}{
		{"Base", func(*liaisonv1.Lead) {}},
		{"DateOfBirthFeb29LeapYear", func(l *liaisonv1.Lead) { subject0(l).DateOfBirth = &liaisonv1.Date{Year: 2024, Month: 2, Day: 29} }},
		{"DateOfBirthFeb29Year2000", func(l *liaisonv1.Lead) { subject0(l).DateOfBirth = &liaisonv1.Date{Year: 2000, Month: 2, Day: 29} }},
		{"DateOfBirthYearOnly", func(l *liaisonv1.Lead) { subject0(l).DateOfBirth = &liaisonv1.Date{Year: 1985} }},
		{"DateOfBirthYearAndMonth", func(l *liaisonv1.Lead) { subject0(l).DateOfBirth = &liaisonv1.Date{Year: 1985, Month: 11} }},
		{"DateOfBirthDec31", func(l *liaisonv1.Lead) { subject0(l).DateOfBirth = &liaisonv1.Date{Year: 1900, Month: 12, Day: 31} }},
		{"NameVietnameseLatin", func(l *liaisonv1.Lead) {
			subject0(l).Names = []*liaisonv1.PersonName{{FamilyName: "Nguyễn", GivenNames: "Văn Ân"}}
		}},
		{"NameLatinCombiningMarks", func(l *liaisonv1.Lead) {
			subject0(l).Names = []*liaisonv1.PersonName{{FamilyName: "Nguye\u0302\u0303n", GivenNames: "O'Brien-Łukasz"}}
		}},
		{"NameArabicTransliterated", func(l *liaisonv1.Lead) {
			subject0(l).Names = []*liaisonv1.PersonName{{GivenNames: "محمد", LatinGivenNames: "Mohammed"}}
		}},
		{"NameThaiTransliterated", func(l *liaisonv1.Lead) {
			subject0(l).Names = []*liaisonv1.PersonName{{FamilyName: "ใจดี", GivenNames: "สมชาย", LatinFamilyName: "Jaidee", LatinGivenNames: "Somchai"}}
		}},
		{"TitleOf200ThaiChars", func(l *liaisonv1.Lead) { l.Title = vldRepeat("ก", 200) }},
		{"SummaryOnly", func(l *liaisonv1.Lead) { l.Subjects = nil }},
		{"SubjectOnly", func(l *liaisonv1.Lead) { l.Summary = "" }},
		{"AllCrimeAreas", func(l *liaisonv1.Lead) { l.CrimeAreas = []liaisonv1.CrimeArea{1, 2, 3, 4, 5, 6} }},
		{"H0WithoutConditions", func(l *liaisonv1.Lead) {
			l.Handling = &liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H0}
		}},
		{"NoReviewDate", func(l *liaisonv1.Lead) { l.ReviewDate = nil }},
		{"ExpiryYear2200", func(l *liaisonv1.Lead) {
			subject0(l).Documents[0].Expiry = &liaisonv1.Date{Year: 2200, Month: 12, Day: 31}
		}},
		{"FiveNationalities", func(l *liaisonv1.Lead) { subject0(l).Nationalities = []string{"CHN", "THA", "IDN", "AUS", "MYS"} }},
		{"RouteOf20Stops", func(l *liaisonv1.Lead) { l.Routes[0].Stops = repeatMsg(l.Routes[0].Stops[0], 20) }},
		{"LocationWithoutCountry", func(l *liaisonv1.Lead) { l.Locations = []*liaisonv1.Location{{Name: "Somewhere"}} }},
		{"PersonIdGiven", func(l *liaisonv1.Lead) { subject0(l).Id = "0190f1c2-0000-7000-8000-00000000beef" }},
	}
	for _, tt := range tests {
		t.Run("CreateLead/"+tt.name, func(t *testing.T) {
			t.Parallel()
			l := vldLead()
			tt.edit(l)
			if _, err := leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: l}); err != nil {
				t.Errorf("refused: %v", err)
			}
		})
	}
	t.Run("ListLeads/PageSize1000", func(t *testing.T) {
		t.Parallel()
		if _, err := leads.ListLeads(ctx, &liaisonv1.ListLeadsRequest{PageSize: 1000, Status: liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN, OriginAgency: "alpha"}); err != nil {
			t.Error(err)
		}
	})
	t.Run("ListAuditEvents/PageSize1000", func(t *testing.T) {
		t.Parallel()
		if _, err := auditor.ListAuditEvents(ctx, &liaisonv1.ListAuditEventsRequest{PageSize: 1000}); err != nil {
			t.Error(err)
		}
	})
}

// TestValidation_Normalises: phone numbers are stored in E.164 and
// document numbers in upper case without separators, on create and on
// update, and every subject gets an id that updates keep.
func TestValidation_Normalises(t *testing.T) {
	t.Parallel()
	node := startAlpha(t)
	leads := liaisonv1.NewLeadServiceClient(node.Conn(t, "analyst"))
	ctx := context.Background()
	l := vldLead()
	p := subject0(l)
	p.PhoneNumbers = []*liaisonv1.PhoneNumber{
		{Number: "081-234-5678", Region: "TH"},
		{Number: "+66 81 234 5678"},
		{Number: "(081) 234 5678", Region: "TH"},
	}
	p.Documents[0].Number = "e 123-4567"
	created, err := leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: l})
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string, got *liaisonv1.Lead) {
		t.Helper()
		s := subject0(got)
		for i, ph := range s.GetPhoneNumbers() {
			if ph.GetNumber() != "+66812345678" || ph.GetRegion() != "" {
				t.Errorf("%s: phone %d stored as %q region %q, want +66812345678 without region", when, i, ph.GetNumber(), ph.GetRegion())
			}
		}
		if d := s.GetDocuments()[0].GetNumber(); d != "E1234567" {
			t.Errorf("%s: document number %q, want E1234567", when, d)
		}
		if s.GetId() == "" {
			t.Errorf("%s: the subject got no id", when)
		}
	}
	check("create response", created.GetLead())
	got, err := leads.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: created.GetLead().GetId()})
	if err != nil {
		t.Fatal(err)
	}
	check("stored", got.GetLead())

	// An update that replaces the subjects normalises them too, and keeps
	// a subject's id.
	patch := proto.Clone(got.GetLead()).(*liaisonv1.Lead)
	personID := subject0(patch).GetId()
	subject0(patch).PhoneNumbers = []*liaisonv1.PhoneNumber{{Number: "081 234 5678", Region: "TH"}}
	subject0(patch).Documents[0].Number = "e-123 4567"
	updated, err := leads.UpdateLead(ctx, &liaisonv1.UpdateLeadRequest{Lead: patch, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"subjects"}}})
	if err != nil {
		t.Fatal(err)
	}
	check("update", updated.GetLead())
	if id := subject0(updated.GetLead()).GetId(); id != personID {
		t.Errorf("update changed the subject's id from %s to %s", personID, id)
	}
}

func TestValidation_NonPartnerReleaseIsNotHalfApplied(t *testing.T) {
	t.Parallel()
	node := startAlpha(t)
	ctx := context.Background()
	analyst := liaisonv1.NewLeadServiceClient(node.Conn(t, "analyst"))
	supervisor := liaisonv1.NewLeadServiceClient(node.Conn(t, "supervisor"))
	created, err := analyst.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: vldLead()})
	if err != nil {
		t.Fatal(err)
	}
	// bravo is a partner, charlie is not: nothing is released.
	_, err = supervisor.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: created.GetLead().GetId(), Partners: []string{"bravo", "charlie"}})
	wantViolation(t, err, "partners[1]")
	got, err := analyst.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: created.GetLead().GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.GetLead().GetReleasedTo()) != 0 {
		t.Errorf("a refused release still released the lead to %v", got.GetLead().GetReleasedTo())
	}
}
