package validate_test

import (
	"errors"
	"slices"
	"testing"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/validate"
)

func newValidator(t *testing.T) *validate.Validator {
	t.Helper()
	v, err := validate.New()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// fields returns the violation paths of a Validate error, failing the test
// if it is not INVALID_ARGUMENT.
func fields(t *testing.T, err error) []string {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.InvalidArgument {
		t.Fatalf("got %T %v, want an INVALID_ARGUMENT *errs.Error", err, err)
	}
	var out []string
	for _, v := range e.FieldViolations {
		out = append(out, v.Field)
	}
	return out
}

func TestValidate_Prefix(t *testing.T) {
	t.Parallel()
	v := newValidator(t)
	l := &liaisonv1.Lead{Title: "t"}
	got := fields(t, v.Validate(l, "lead"))
	for _, want := range []string{"lead", "lead.crime_areas", "lead.evaluation", "lead.handling"} {
		if !slices.Contains(got, want) {
			t.Errorf("violations %q lack %q", got, want)
		}
	}
	got = fields(t, v.Validate(l, ""))
	if !slices.Contains(got, "crime_areas") || !slices.Contains(got, "") {
		t.Errorf("without a prefix: violations %q, want crime_areas and the message itself (\"\")", got)
	}
	if err := v.Validate(&liaisonv1.VerifyAuditLogRequest{}, ""); err != nil {
		t.Errorf("a message without rules: %v", err)
	}
}

// TestValidate_Date: the calendar rule of Date, on its own.
func TestValidate_Date(t *testing.T) {
	t.Parallel()
	v := newValidator(t)
	tests := []struct {
		name  string
		date  *liaisonv1.Date
		field string // "" valid; "-" the message itself
	}{
		{"Full", &liaisonv1.Date{Year: 2024, Month: 2, Day: 29}, ""},
		{"YearOnly", &liaisonv1.Date{Year: 1980}, ""},
		{"YearMonth", &liaisonv1.Date{Year: 1980, Month: 12}, ""},
		{"Feb29Year2000", &liaisonv1.Date{Year: 2000, Month: 2, Day: 29}, ""},
		{"Feb29Year1900", &liaisonv1.Date{Year: 1900, Month: 2, Day: 29}, "-"},
		{"Feb29Year2023", &liaisonv1.Date{Year: 2023, Month: 2, Day: 29}, "-"},
		{"Feb30", &liaisonv1.Date{Year: 2024, Month: 2, Day: 30}, "-"},
		{"Jun31", &liaisonv1.Date{Year: 2024, Month: 6, Day: 31}, "-"},
		{"DayWithoutMonth", &liaisonv1.Date{Year: 2024, Day: 1}, "-"},
		{"Year1899", &liaisonv1.Date{Year: 1899}, "year"},
		{"Year2201", &liaisonv1.Date{Year: 2201}, "year"},
		{"Month13", &liaisonv1.Date{Year: 2024, Month: 13}, "month"},
		{"Day32", &liaisonv1.Date{Year: 2024, Month: 1, Day: 32}, "day"},
		{"DayNegative", &liaisonv1.Date{Year: 2024, Month: 1, Day: -1}, "day"},
		// The calendar rule indexes a table by month: a month outside
		// 1..12 together with a day must be a field violation, not a
		// rule that fails to evaluate (INTERNAL to the caller).
		{"Month13WithDay", &liaisonv1.Date{Year: 2024, Month: 13, Day: 1}, "month"},
		{"MonthNegativeWithDay", &liaisonv1.Date{Year: 2024, Month: -1, Day: 1}, "month"},
		{"Month2147483647WithDay", &liaisonv1.Date{Year: 2024, Month: 2147483647, Day: 1}, "month"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := v.Validate(tt.date, "")
			if tt.field == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			want := tt.field
			if want == "-" {
				want = ""
			}
			if got := fields(t, err); !slices.Contains(got, want) {
				t.Errorf("violations at %q, want one at %q", got, want)
			}
		})
	}
}
