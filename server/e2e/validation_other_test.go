package e2e

import (
	"context"
	"testing"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// TestValidation_SearchPersons covers every rule of SearchPersonsRequest:
// those of the .proto, enforced by the validation interceptor before the
// service runs, and the service's own (what cannot be normalised into
// something to search for). Message-wide rules (search.terms,
// search.birth_years) are reported on the request itself: field "".
func TestValidation_SearchPersons(t *testing.T) {
	t.Parallel()
	node := startAlpha(t)
	search := liaisonv1.NewSearchServiceClient(node.Conn(t, "analyst"))
	// with sends a valid search by name with one edit.
	with := func(edit func(r *liaisonv1.SearchPersonsRequest)) func(context.Context) error {
		return func(ctx context.Context) error {
			r := &liaisonv1.SearchPersonsRequest{Name: "Wang Xiaoming"}
			edit(r)
			_, err := search.SearchPersons(ctx, r)
			return err
		}
	}
	only := func(r *liaisonv1.SearchPersonsRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := search.SearchPersons(ctx, r); return err }
	}
	dob := func(d *liaisonv1.Date) func(context.Context) error {
		return with(func(r *liaisonv1.SearchPersonsRequest) { r.DateOfBirth = d })
	}
	cases := []vldCase{
		{name: "NoTerms", call: only(&liaisonv1.SearchPersonsRequest{PageSize: 10}), field: ""},
		{name: "NoTermsOnlyPhoneRegion", call: only(&liaisonv1.SearchPersonsRequest{PhoneRegion: "TH"}), field: ""},
		{name: "BirthYearsReversed", call: only(&liaisonv1.SearchPersonsRequest{BirthYearFrom: 1990, BirthYearTo: 1980}), field: ""},
		{name: "BirthYearsReversedWithName", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.BirthYearFrom, r.BirthYearTo = 2001, 2000 }), field: ""},

		{name: "NameTooLong", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.Name = vldRepeat("n", 201) }), field: "name"},
		{name: "NameTooLongThai", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.Name = vldRepeat("ก", 201) }), field: "name"},
		{name: "PhoneLetters", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.Phone = "+66 81 CALL ME" }), field: "phone"},
		{name: "PhonePlusInside", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.Phone = "66+812345678" }), field: "phone"},
		{name: "PhoneTooLong", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.Phone = "+" + vldRepeat("1", 40) }), field: "phone"},
		{name: "PhoneRegionLowerCase", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.Phone, r.PhoneRegion = "0812345679", "th" }), field: "phone_region"},
		{name: "PhoneRegionAlpha3", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.Phone, r.PhoneRegion = "0812345679", "THA" }), field: "phone_region"},
		{name: "DocumentTooLong", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.Document = vldRepeat("9", 41) }), field: "document"},
		{name: "BirthYearFromNegative", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.BirthYearFrom = -1 }), field: "birth_year_from"},
		{name: "BirthYearFromTooLate", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.BirthYearFrom = 2201 }), field: "birth_year_from"},
		{name: "BirthYearToNegative", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.BirthYearTo = -1 }), field: "birth_year_to"},
		{name: "BirthYearToTooLate", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.BirthYearTo = 2201 }), field: "birth_year_to"},
		{name: "PageSizeOver200", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.PageSize = 201 }), field: "page_size"},
		{name: "PageSizeNegative", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.PageSize = -1 }), field: "page_size"},

		// date_of_birth: a Date (date.valid and the bounds of its parts).
		{name: "DateOfBirthYearTooEarly", call: dob(&liaisonv1.Date{Year: 1899}), field: "date_of_birth.year"},
		{name: "DateOfBirthYearTooLate", call: dob(&liaisonv1.Date{Year: 2201}), field: "date_of_birth.year"},
		{name: "DateOfBirthYearMissing", call: dob(&liaisonv1.Date{Month: 5, Day: 17}), field: "date_of_birth.year"},
		{name: "DateOfBirthMonth13", call: dob(&liaisonv1.Date{Year: 1980, Month: 13}), field: "date_of_birth.month"},
		{name: "DateOfBirthMonthNegative", call: dob(&liaisonv1.Date{Year: 1980, Month: -1}), field: "date_of_birth.month"},
		{name: "DateOfBirthDay32", call: dob(&liaisonv1.Date{Year: 1980, Month: 1, Day: 32}), field: "date_of_birth.day"},
		{name: "DateOfBirthFeb30", call: dob(&liaisonv1.Date{Year: 1980, Month: 2, Day: 30}), field: "date_of_birth"},
		{name: "DateOfBirthFeb29NonLeapYear", call: dob(&liaisonv1.Date{Year: 1981, Month: 2, Day: 29}), field: "date_of_birth"},
		{name: "DateOfBirthDayWithoutMonth", call: dob(&liaisonv1.Date{Year: 1980, Day: 17}), field: "date_of_birth"},
		{name: "DateOfBirthOnlyTermFeb30", call: only(&liaisonv1.SearchPersonsRequest{DateOfBirth: &liaisonv1.Date{Year: 1980, Month: 2, Day: 30}}), field: "date_of_birth"},

		// The service's rules, after the interceptor's.
		{name: "PhoneImpossible", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.Phone = "+66 12" }), field: "phone"},
		{name: "PhoneUnknownCountryCode", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.Phone = "+999 1234 5678" }), field: "phone"},
		{name: "PhoneNationalWithoutRegion", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.Phone = "081-234-5678" }), field: "phone"},
		{name: "NameOnlyPunctuation", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.Name = "-- ?? ." }), field: "name"},
		{name: "DocumentOnlySeparators", call: with(func(r *liaisonv1.SearchPersonsRequest) { r.Document = "- / -" }), field: "document"},
	}
	t.Run("Rejects", func(t *testing.T) { runCases(t, cases) })

	// The edges of each rule, and every kind of term alone, are accepted.
	accepts := []struct {
		name string
		req  *liaisonv1.SearchPersonsRequest
	}{
		{"Name", &liaisonv1.SearchPersonsRequest{Name: "Wang Xiaoming"}},
		{"NameOf200Chars", &liaisonv1.SearchPersonsRequest{Name: vldRepeat("ก", 200)}},
		{"PhoneInternational", &liaisonv1.SearchPersonsRequest{Phone: "+66 81 234 5678"}},
		{"PhoneNationalWithRegion", &liaisonv1.SearchPersonsRequest{Phone: "(081) 234-5678", PhoneRegion: "TH"}},
		{"Document", &liaisonv1.SearchPersonsRequest{Document: "e 123-4567"}},
		{"DateOfBirthYearOnly", &liaisonv1.SearchPersonsRequest{DateOfBirth: &liaisonv1.Date{Year: 1980}}},
		{"DateOfBirthYearAndMonth", &liaisonv1.SearchPersonsRequest{DateOfBirth: &liaisonv1.Date{Year: 1980, Month: 5}}},
		{"DateOfBirthFeb29LeapYear", &liaisonv1.SearchPersonsRequest{DateOfBirth: &liaisonv1.Date{Year: 2000, Month: 2, Day: 29}}},
		{"BirthYearFromOnly", &liaisonv1.SearchPersonsRequest{BirthYearFrom: 2200}},
		{"BirthYearToOnly", &liaisonv1.SearchPersonsRequest{BirthYearTo: 1}},
		{"BirthYearsEqual", &liaisonv1.SearchPersonsRequest{BirthYearFrom: 1980, BirthYearTo: 1980}},
		{"PageSize200", &liaisonv1.SearchPersonsRequest{Name: "Wang", PageSize: 200}},
	}
	for _, tt := range accepts {
		t.Run("Accepts/"+tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := search.SearchPersons(context.Background(), tt.req); err != nil {
				t.Errorf("refused: %v", err)
			}
		})
	}
}

// TestValidation_PermissionRequests covers every rule of PermissionService's
// request messages, and checks that no refused call left a request behind.
// (FederationAdminService's requests have no fields, hence no rules.)
func TestValidation_PermissionRequests(t *testing.T) {
	t.Parallel()
	node := startAlpha(t)
	ctx := context.Background()
	analyst := liaisonv1.NewPermissionServiceClient(node.Conn(t, "analyst"))
	supervisor := liaisonv1.NewPermissionServiceClient(node.Conn(t, "supervisor"))
	const recordID = "0190f1c2-0000-7000-8000-0000000000a1"
	const requestID = "0190f1c2-0000-7000-8000-0000000000a2"
	export := liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT

	ask := func(r *liaisonv1.RequestPermissionRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := analyst.RequestPermission(ctx, r); return err }
	}
	list := func(r *liaisonv1.ListPermissionRequestsRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := analyst.ListPermissionRequests(ctx, r); return err }
	}
	decide := func(r *liaisonv1.DecidePermissionRequestRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := supervisor.DecidePermissionRequest(ctx, r); return err }
	}
	cases := []vldCase{
		{name: "RequestPermission/RecordIdEmpty", call: ask(&liaisonv1.RequestPermissionRequest{Purpose: export, Justification: "j"}), field: "record_id"},
		{name: "RequestPermission/RecordIdNotUUID", call: ask(&liaisonv1.RequestPermissionRequest{RecordId: "lead-1", Purpose: export, Justification: "j"}), field: "record_id"},
		{name: "RequestPermission/PurposeUnspecified", call: ask(&liaisonv1.RequestPermissionRequest{RecordId: recordID, Justification: "j"}), field: "purpose"},
		{name: "RequestPermission/PurposeUndefined", call: ask(&liaisonv1.RequestPermissionRequest{RecordId: recordID, Purpose: 99, Justification: "j"}), field: "purpose"},
		{name: "RequestPermission/JustificationMissing", call: ask(&liaisonv1.RequestPermissionRequest{RecordId: recordID, Purpose: export}), field: "justification"},
		{name: "RequestPermission/JustificationTooLong", call: ask(&liaisonv1.RequestPermissionRequest{RecordId: recordID, Purpose: export, Justification: vldRepeat("j", 2001)}), field: "justification"},

		{name: "ListPermissionRequests/DirectionUndefined", call: list(&liaisonv1.ListPermissionRequestsRequest{Direction: 99}), field: "direction"},
		{name: "ListPermissionRequests/StatusUndefined", call: list(&liaisonv1.ListPermissionRequestsRequest{Status: 99}), field: "status"},
		{name: "ListPermissionRequests/RecordIdNotUUID", call: list(&liaisonv1.ListPermissionRequestsRequest{RecordId: "lead-1"}), field: "record_id"},
		{name: "ListPermissionRequests/PageSizeOver1000", call: list(&liaisonv1.ListPermissionRequestsRequest{PageSize: 1001}), field: "page_size"},
		{name: "ListPermissionRequests/PageSizeNegative", call: list(&liaisonv1.ListPermissionRequestsRequest{PageSize: -1}), field: "page_size"},
		{name: "ListPermissionRequests/PageTokenTooLong", call: list(&liaisonv1.ListPermissionRequestsRequest{PageToken: vldRepeat("t", 513)}), field: "page_token"},
		{name: "ListPermissionRequests/PageTokenForged", call: list(&liaisonv1.ListPermissionRequestsRequest{PageToken: "not-a-token"}), field: "page_token"},

		{name: "DecidePermissionRequest/IdEmpty", call: decide(&liaisonv1.DecidePermissionRequestRequest{Grant: true, Reason: "r"}), field: "id"},
		{name: "DecidePermissionRequest/IdNotUUID", call: decide(&liaisonv1.DecidePermissionRequestRequest{Id: "request-1", Grant: true, Reason: "r"}), field: "id"},
		{name: "DecidePermissionRequest/ReasonMissing", call: decide(&liaisonv1.DecidePermissionRequestRequest{Id: requestID, Grant: true}), field: "reason"},
		{name: "DecidePermissionRequest/ReasonMissingOnRefusal", call: decide(&liaisonv1.DecidePermissionRequestRequest{Id: requestID}), field: "reason"},
		{name: "DecidePermissionRequest/ReasonBlank", call: decide(&liaisonv1.DecidePermissionRequestRequest{Id: requestID, Reason: "  "}), field: "reason"},
		{name: "DecidePermissionRequest/ReasonTooLong", call: decide(&liaisonv1.DecidePermissionRequestRequest{Id: requestID, Reason: vldRepeat("r", 2001)}), field: "reason"},
	}
	t.Run("Rejects", func(t *testing.T) { runCases(t, cases) })

	got, err := analyst.ListPermissionRequests(ctx, &liaisonv1.ListPermissionRequestsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.GetRequests()); n != 0 {
		t.Errorf("after refused requests there are %d permission requests, want none: %v", n, got.GetRequests())
	}
	if _, err := analyst.ListPermissionRequests(ctx, &liaisonv1.ListPermissionRequestsRequest{
		Direction: liaisonv1.PermissionDirection_PERMISSION_DIRECTION_INCOMING, Status: liaisonv1.PermissionStatus_PERMISSION_STATUS_REFUSED,
		RecordId: recordID, PageSize: 1000,
	}); err != nil {
		t.Errorf("the edges of every filter: %v", err)
	}
}
