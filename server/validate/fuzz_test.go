package validate_test

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/persons"
	"github.com/liaison-exchange/liaison/server/validate"
)

// fuzzTypes are the message types the fuzzer decodes bytes into: the input
// of every method of every liaison.v1 service (read from the descriptors,
// so a new service or method is fuzzed without touching this file), plus
// what travels between nodes. The lead services come first, so the
// fuzzer's kind numbers for them stay as they were.
func fuzzTypes(tb testing.TB) []protoreflect.MessageType {
	tb.Helper()
	var out []protoreflect.MessageType
	seen := map[protoreflect.FullName]bool{}
	add := func(name protoreflect.FullName) {
		if seen[name] {
			return
		}
		mt, err := protoregistry.GlobalTypes.FindMessageByName(name)
		if err != nil {
			tb.Fatalf("message %s: %v", name, err)
		}
		seen[name] = true
		out = append(out, mt)
	}
	services := []protoreflect.ServiceDescriptor{
		liaisonv1.File_liaison_v1_lead_proto.Services().ByName("LeadService"),
		liaisonv1.File_liaison_v1_audit_proto.Services().ByName("AuditService"),
	}
	var rest []protoreflect.ServiceDescriptor
	protoregistry.GlobalFiles.RangeFilesByPackage("liaison.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			rest = append(rest, fd.Services().Get(i))
		}
		return true
	})
	// The registry's order is not fixed; the fuzzer's kind numbers should be.
	slices.SortFunc(rest, func(a, b protoreflect.ServiceDescriptor) int {
		return strings.Compare(string(a.FullName()), string(b.FullName()))
	})
	services = append(services, rest...)
	for _, svc := range services {
		methods := svc.Methods()
		for i := 0; i < methods.Len(); i++ {
			add(methods.Get(i).Input().FullName())
		}
	}
	for _, m := range []proto.Message{&liaisonv1.Envelope{}, &liaisonv1.Lead{}, &liaisonv1.Tombstone{}, &liaisonv1.Person{}} {
		add(m.ProtoReflect().Descriptor().FullName())
	}
	if len(out) > 256 {
		tb.Fatalf("%d message types: more than the fuzzer's one-byte kind can pick", len(out))
	}
	return out
}

// kindOf is the fuzz kind that selects the type of m.
func kindOf(tb testing.TB, types []protoreflect.MessageType, m proto.Message) uint8 {
	for i, mt := range types {
		if mt.Descriptor().FullName() == m.ProtoReflect().Descriptor().FullName() {
			return uint8(i)
		}
	}
	tb.Fatalf("%T is not fuzzed", m)
	return 0
}

// seedLead is a valid lead touching every field with a rule.
func seedLead() *liaisonv1.Lead {
	return &liaisonv1.Lead{
		Title:      "Kupang boat network",
		Summary:    "Recruiter advertises sea crossings",
		CrimeAreas: []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_MIGRANT_SMUGGLING},
		Subjects: []*liaisonv1.Person{{
			Names:         []*liaisonv1.PersonName{{FamilyName: "王", GivenNames: "小明", LatinFamilyName: "Wang", LatinGivenNames: "Xiaoming"}},
			Aliases:       []string{"Ah Ming"},
			DateOfBirth:   &liaisonv1.Date{Year: 1980, Month: 2, Day: 29},
			Sex:           liaisonv1.Sex_SEX_MALE,
			Nationalities: []string{"CHN"},
			Documents: []*liaisonv1.IdentityDocument{{
				Type: liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: "e 123-4567", IssuingCountry: "CHN",
				Expiry: &liaisonv1.Date{Year: 2030, Month: 1, Day: 31},
			}},
			PhoneNumbers: []*liaisonv1.PhoneNumber{{Number: "081-234-5678", Region: "TH"}, {Number: "+66 81 234 5678"}},
			Role:         liaisonv1.NetworkRole_NETWORK_ROLE_RECRUITER,
		}},
		Locations:  []*liaisonv1.Location{{Name: "Kupang", Country: "IDN"}},
		Routes:     []*liaisonv1.Route{{Stops: []*liaisonv1.Location{{Name: "Kupang"}, {Name: "Ashmore Reef"}}, Mode: liaisonv1.TransportMode_TRANSPORT_MODE_SEA}},
		Evaluation: &liaisonv1.Evaluation{SourceReliability: liaisonv1.SourceReliability_SOURCE_RELIABILITY_B, InformationAccuracy: liaisonv1.InformationAccuracy_INFORMATION_ACCURACY_2},
		Handling:   &liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H3, Conditions: "no onward use"},
		ReviewDate: &liaisonv1.Date{Year: 2030, Month: 12, Day: 31},
	}
}

const seedID = "0190f1c2-0000-7000-8000-000000000001"

// seedMessages are valid messages of most fuzzed types, and a few that
// sit just past a rule.
func seedMessages() []proto.Message {
	lead := seedLead()
	leadBytes, _ := proto.MarshalOptions{Deterministic: true}.Marshal(lead)
	tomb, _ := proto.Marshal(&liaisonv1.Tombstone{RecordId: seedID, OriginAgency: "alpha", Version: 3, DeleteTime: timestamppb.Now()})
	outOfRange := seedLead()
	outOfRange.ReviewDate = &liaisonv1.Date{Year: 2030, Month: 13, Day: 1}
	// Numbers with leading zeros after the country code lose one zero per
	// parse: "+66 00 812345678" once gave +660812345678, then
	// +66812345678; "+6000000000000" (found by this fuzzer) still gives
	// +60000000000, then +6000000000. The stored "normal" form must be a
	// fixed point.
	doubleTrunk := &liaisonv1.Person{
		Names:        []*liaisonv1.PersonName{{FamilyName: "Somchai"}},
		PhoneNumbers: []*liaisonv1.PhoneNumber{{Number: "+66 00 812345678"}, {Number: "+6000000000000"}},
	}
	blankLatin := seedLead()
	blankLatin.Subjects[0].Names[0].LatinFamilyName, blankLatin.Subjects[0].Names[0].LatinGivenNames = " ", ""
	return []proto.Message{
		&liaisonv1.CreateLeadRequest{Lead: lead, RequestId: seedID},
		&liaisonv1.CreateLeadRequest{Lead: outOfRange},
		&liaisonv1.CreateLeadRequest{Lead: blankLatin},
		&liaisonv1.GetLeadRequest{Id: seedID},
		&liaisonv1.ListLeadsRequest{PageSize: 1000, Status: liaisonv1.LeadStatus_LEAD_STATUS_RELEASED, OriginAgency: "bravo", UpdatedAfter: timestamppb.Now()},
		&liaisonv1.UpdateLeadRequest{Lead: lead, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title", "subjects"}}},
		&liaisonv1.ReleaseLeadRequest{Id: seedID, Partners: []string{"bravo"}, Etag: "abc"},
		&liaisonv1.WithdrawLeadRequest{Id: seedID, Reason: "wrong person"},
		&liaisonv1.ListAuditEventsRequest{PageSize: 10, Principal: "spiffe://alpha.liaison.test/analyst/alice", Outcome: "PermissionDenied"},
		&liaisonv1.VerifyAuditLogRequest{},
		&liaisonv1.Envelope{Id: seedID, Sender: "alpha", Receiver: "bravo", Sequence: 7, Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD, RecordId: seedID, RecordVersion: 2, CreateTime: timestamppb.Now(), Payload: leadBytes},
		&liaisonv1.Envelope{Id: seedID, Sender: "alpha", Receiver: "bravo", Sequence: 8, Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE, RecordId: seedID, Payload: tomb},
		lead,
		lead.Subjects[0],
		doubleTrunk,
	}
}

// checkValidateError: Validate may refuse a message only with
// INVALID_ARGUMENT and at least one field violation. Anything else means a
// rule did not compile or failed to evaluate on this input — the caller
// would get INTERNAL for bad input.
func checkValidateError(t *testing.T, msg proto.Message, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *errs.Error
	if !errors.As(err, &e) {
		t.Fatalf("Validate(%T) returned %T, not *errs.Error: %v\nmessage: %v", msg, err, err, msg)
	}
	if e.Code != errs.InvalidArgument {
		t.Fatalf("Validate(%T) returned code %v, want InvalidArgument: %v", msg, e.Code, err)
	}
	if len(e.FieldViolations) == 0 {
		t.Fatalf("Validate(%T) returned INVALID_ARGUMENT without field violations: %v", msg, err)
	}
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,17}$`)

// checkNormalize normalises every subject of a lead and checks what comes
// out: violations name a field of the subject, normalised values have
// their normal form, normalising again changes nothing (UpdateLead
// normalises the stored subjects of every lead it changes once more), and
// a lead that was valid and normalised without complaint is still valid
// (CreateLead validates before normalising and stores the result).
func checkNormalize(t *testing.T, v *validate.Validator, lead *liaisonv1.Lead) {
	t.Helper()
	validBefore := v.Validate(lead, "lead") == nil
	defer func() {
		if t.Failed() || !validBefore {
			return
		}
		if err := v.Validate(lead, "lead"); err != nil {
			t.Fatalf("a valid lead became invalid by normalising it, without a violation from Normalize: %v\nnormalised: %v", err, lead)
		}
	}()
	for i, p := range lead.GetSubjects() {
		path := fmt.Sprintf("lead.subjects[%d]", i)
		vs := persons.Normalize(p, path)
		for _, fv := range vs {
			if !strings.HasPrefix(fv.Field, path+".") {
				t.Fatalf("Normalize(%s) reported a violation outside the subject: %q", path, fv.Field)
			}
		}
		if len(vs) > 0 {
			validBefore = false // reported: the caller gets INVALID_ARGUMENT
			continue
		}
		for j, ph := range p.GetPhoneNumbers() {
			if !e164.MatchString(ph.GetNumber()) || ph.GetRegion() != "" {
				t.Fatalf("phone %d normalised to %q (region %q), not E.164", j, ph.GetNumber(), ph.GetRegion())
			}
		}
		for j, d := range p.GetDocuments() {
			if persons.DocumentNumber(d.GetNumber()) != d.GetNumber() {
				t.Fatalf("document %d normalised to %q, which normalises again to %q", j, d.GetNumber(), persons.DocumentNumber(d.GetNumber()))
			}
		}
		again := proto.Clone(p).(*liaisonv1.Person)
		if vs := persons.Normalize(again, path); len(vs) > 0 {
			t.Fatalf("a normalised subject does not normalise again: %v\nsubject: %v", vs, p)
		}
		if !proto.Equal(again, p) {
			t.Fatalf("normalising twice changed the subject:\nonce:  %v\ntwice: %v", p, again)
		}
	}
}

// leadsIn returns the leads a message carries: itself, its lead field, or
// an envelope's lead payload.
func leadsIn(t *testing.T, v *validate.Validator, msg proto.Message) []*liaisonv1.Lead {
	switch m := msg.(type) {
	case *liaisonv1.Lead:
		return []*liaisonv1.Lead{m}
	case *liaisonv1.Person:
		return []*liaisonv1.Lead{{Subjects: []*liaisonv1.Person{m}}}
	case *liaisonv1.Envelope:
		var payload proto.Message
		switch m.GetKind() {
		case liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD:
			payload = &liaisonv1.Lead{}
		case liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE:
			payload = &liaisonv1.Tombstone{}
		default:
			return nil
		}
		if proto.Unmarshal(m.GetPayload(), payload) != nil {
			return nil
		}
		checkValidateError(t, payload, v.Validate(payload, ""))
		if l, ok := payload.(*liaisonv1.Lead); ok {
			return []*liaisonv1.Lead{l}
		}
		return nil
	}
	// Any request with a "lead" field.
	fd := msg.ProtoReflect().Descriptor().Fields().ByName("lead")
	if fd == nil || fd.Message() == nil || !msg.ProtoReflect().Has(fd) {
		return nil
	}
	if l, ok := msg.ProtoReflect().Get(fd).Message().Interface().(*liaisonv1.Lead); ok {
		return []*liaisonv1.Lead{l}
	}
	return nil
}

func FuzzValidateRequests(f *testing.F) {
	types := fuzzTypes(f)
	for _, m := range seedMessages() {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, kindOf(f, types, m))
	}
	v, err := validate.New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		msg := types[int(kind)%len(types)].New().Interface()
		if err := proto.Unmarshal(data, msg); err != nil {
			return
		}
		checkValidateError(t, msg, v.Validate(msg, ""))
		checkValidateError(t, msg, v.Validate(msg, "lead"))
		for _, l := range leadsIn(t, v, msg) {
			checkValidateError(t, l, v.Validate(l, "lead"))
			checkNormalize(t, v, l)
			// After normalising, the lead is validated again (UpdateLead
			// does so with the merged lead).
			checkValidateError(t, l, v.Validate(l, "lead"))
		}
	})
}

func FuzzDecodeLeadJSON(f *testing.F) {
	for _, l := range []*liaisonv1.Lead{seedLead(), {}, {Title: "x", Summary: "y"}} {
		b, err := protojson.Marshal(l)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add(`{"title":"t","reviewDate":{"year":2030,"month":13,"day":1}}`)
	f.Add(`{"subjects":[{"names":[{"familyName":"สมชาย"}],"phoneNumbers":[{"number":"081 234 5678","region":"TH"}],"documents":[{"number":"--"}]}]}`)
	f.Add(`{"crimeAreas":["CRIME_AREA_OTHER", 99, "CRIME_AREA_OTHER"],"handling":{"code":"HANDLING_CODE_H3"}}`)
	f.Add(`{"subjects":[{"dateOfBirth":{"year":2023,"month":2,"day":29},"nationalities":["tha","THA","THA"]}]}`)
	f.Add(`{"title":"t","summary":"s","subjects":[{"names":[{"familyName":"Jaidee"}],"phoneNumbers":[{"number":"+66 00 812345678"}]}]}`)
	f.Add(`{"title":"t","summary":"s","subjects":[{"names":[{"familyName":"Tan"}],"phoneNumbers":[{"number":"+6000000000000"}]}]}`)
	v, err := validate.New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var l liaisonv1.Lead
		if err := protojson.Unmarshal([]byte(s), &l); err != nil {
			return
		}
		checkValidateError(t, &l, v.Validate(&l, ""))
		checkNormalize(t, v, &l)
		checkValidateError(t, &l, v.Validate(&l, "lead"))
	})
}
