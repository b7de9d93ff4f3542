package main

import (
	"flag"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

func TestRun_Usage(t *testing.T) {
	t.Parallel()
	runUsage(t, []usageCase{
		{name: "NoArgs", code: exitUsage, stderr: []string{"usage: liaisonctl [global flags]", "leads:", "audit:"}},
		{name: "Help", args: []string{"help"}, code: exitOK, stdout: []string{"usage: liaisonctl", "create", "verify", "--timeout DURATION"}},
		{name: "DashHelp", args: []string{"--help"}, code: exitOK, stdout: []string{"usage: liaisonctl [global flags]"}},
		{name: "GroupHelp", args: []string{"leads", "--help"}, code: exitOK, stdout: []string{"liaisonctl leads create -f FILE", "liaisonctl leads withdraw ID --reason TEXT"}},
		{name: "HelpGroup", args: []string{"help", "audit"}, code: exitOK, stdout: []string{"liaisonctl audit verify"}},
		{name: "CommandHelp", args: []string{"help", "leads", "update"}, code: exitOK, stdout: []string{"usage: liaisonctl leads update ID -f PATCH", "--etag ETAG", "-f FILE"}},
		{name: "CommandDashH", args: []string{"leads", "list", "-h"}, code: exitOK, stdout: []string{"--crime-area AREA", "--all "}},
		{name: "GroupWithoutCommand", args: []string{"leads"}, code: exitUsage, stderr: []string{"usage: liaisonctl leads COMMAND"}},
		{name: "UnknownGroup", args: []string{"dossiers", "list"}, code: exitUsage, stderr: []string{`error: unknown command "dossiers"`}},
		{name: "UnknownCommand", args: []string{"leads", "frob"}, code: exitUsage, stderr: []string{`error: unknown command "frob" in leads`, "usage: liaisonctl leads COMMAND"}},
		{name: "UnknownFlag", args: []string{"leads", "get", "x", "--bogus=1"}, code: exitUsage, stderr: []string{"error: unknown flag --bogus", "usage: liaisonctl leads get ID"}},
		{name: "UnknownFlagBeforeCommand", args: []string{"--status", "draft", "leads", "list"}, code: exitUsage, stderr: []string{"error: unknown flag --status"}},
		{name: "FlagWithoutValue", args: []string{"leads", "get", "x", "--addr"}, code: exitUsage, stderr: []string{"error: flag --addr needs a value"}},
		{name: "MissingArgument", args: []string{"leads", "get"}, code: exitUsage, stderr: []string{"leads get takes ID, got []"}},
		{name: "ExtraArgument", args: []string{"audit", "verify", "now"}, code: exitUsage, stderr: []string{`audit verify takes no arguments, got ["now"]`}},
		{name: "BadOutput", args: []string{"-o", "yaml", "leads", "get", "x"}, code: exitUsage, stderr: []string{`invalid output format "yaml"`}},
		{name: "BadTimeout", args: []string{"leads", "list", "--timeout", "soon"}, code: exitUsage, stderr: []string{`invalid value "soon" for flag --timeout`}},
		{name: "BadStatus", args: []string{"leads", "list", "--status", "pending"}, code: exitUsage, stderr: []string{`--status: "pending" is not one of draft, released, withdrawn`}},
		{name: "BadCrimeArea", args: []string{"leads", "list", "--crime-area", "piracy"}, code: exitUsage, stderr: []string{"migrant-smuggling, trafficking, document-fraud"}},
		{name: "BadTime", args: []string{"leads", "list", "--updated-after", "yesterday"}, code: exitUsage, stderr: []string{`--updated-after: "yesterday" is not an RFC 3339 time`}},
		{name: "BadPageSize", args: []string{"audit", "list", "--page-size=-1"}, code: exitUsage, stderr: []string{"--page-size -1 is out of range"}},
		{name: "CreateWithoutFile", args: []string{"leads", "create"}, code: exitUsage, stderr: []string{"leads create needs -f FILE"}},
		{name: "CreateBadRequestID", args: []string{"leads", "create", "-f", "x.json", "--request-id", "42"}, code: exitUsage, stderr: []string{`--request-id "42" is not a UUID`}},
		{name: "UpdateWithoutFile", args: []string{"leads", "update", "x"}, code: exitUsage, stderr: []string{"leads update needs -f PATCH"}},
		{name: "ReleaseWithoutPartner", args: []string{"leads", "release", "x"}, code: exitUsage, stderr: []string{"leads release needs --to AGENCY"}},
		{name: "WithdrawWithoutReason", args: []string{"leads", "withdraw", "x", "--reason", " "}, code: exitUsage, stderr: []string{"leads withdraw needs --reason TEXT"}},
	})
}

// Every command's flags can be defined next to the global ones: a clash
// would panic at run time, on that command only.
func TestRegistry_FlagsDoNotClash(t *testing.T) {
	t.Parallel()
	for _, g := range groups {
		for _, c := range g.commands {
			fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
			var gl globals
			gl.define(fs)
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("%s %s: %v", g.name, c.name, p)
					}
				}()
				c.setup(fs)
			}()
			if c.summary == "" {
				t.Errorf("%s %s has no summary", g.name, c.name)
			}
		}
	}
}

func TestParse_Interleaved(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"FlagsFirst", []string{"-o", "json", "--timeout", "5s", "leads", "release", "ID", "--to", "bravo"}},
		{"FlagsLast", []string{"leads", "release", "ID", "--to=bravo", "-o=json", "--timeout=5s"}},
		{"FlagsBetween", []string{"leads", "--output", "json", "release", "--to", "bravo", "ID", "--timeout", "5s"}},
		{"DoubleDash", []string{"leads", "release", "--to", "bravo", "-o", "json", "--timeout", "5s", "--", "ID"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			inv, err := parse(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if inv.group.name != "leads" || inv.cmd.name != "release" {
				t.Errorf("command %s %s, want leads release", inv.group.name, inv.cmd.name)
			}
			if diff := cmp.Diff([]string{"ID"}, inv.args); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
			if inv.globals.output != "json" || inv.globals.timeout.String() != "5s" {
				t.Errorf("output %q timeout %v, want json 5s", inv.globals.output, inv.globals.timeout)
			}
			if to := inv.flags.Lookup("to").Value.String(); to != "bravo" {
				t.Errorf("--to = %q, want bravo", to)
			}
		})
	}
}

func TestListFlag_Set(t *testing.T) {
	t.Parallel()
	var l listFlag
	for _, v := range []string{"bravo,charlie", "delta", " echo , "} {
		if err := l.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(listFlag{"bravo", "charlie", "delta", "echo"}, l); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseEnum(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"released", "RELEASED", "Lead_Status_Released", "LEAD_STATUS_RELEASED", " released "} {
		got, err := parseEnum[liaisonv1.LeadStatus](in, nil)
		if err != nil || got != liaisonv1.LeadStatus_LEAD_STATUS_RELEASED {
			t.Errorf("parseEnum(%q) = %v, %v; want LEAD_STATUS_RELEASED", in, got, err)
		}
	}
	for in, want := range map[string]liaisonv1.CrimeArea{
		"trafficking":                            liaisonv1.CrimeArea_CRIME_AREA_TRAFFICKING_IN_HUMAN_BEINGS,
		"TRAFFICKING_IN_HUMAN_BEINGS":            liaisonv1.CrimeArea_CRIME_AREA_TRAFFICKING_IN_HUMAN_BEINGS,
		"crime-area-trafficking-in-human-beings": liaisonv1.CrimeArea_CRIME_AREA_TRAFFICKING_IN_HUMAN_BEINGS,
		"telecom-fraud":                          liaisonv1.CrimeArea_CRIME_AREA_TELECOM_AND_ONLINE_FRAUD,
		"Migrant_Smuggling":                      liaisonv1.CrimeArea_CRIME_AREA_MIGRANT_SMUGGLING,
		"money-laundering":                       liaisonv1.CrimeArea_CRIME_AREA_MONEY_LAUNDERING,
	} {
		got, err := parseEnum(in, crimeAreaName)
		if err != nil || got != want {
			t.Errorf("parseEnum(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "unspecified", "LEAD_STATUS_UNSPECIFIED", "relea", "1"} {
		if got, err := parseEnum[liaisonv1.LeadStatus](in, nil); err == nil {
			t.Errorf("parseEnum(%q) = %v, want an error", in, got)
		}
	}
}

func TestEnumNames(t *testing.T) {
	t.Parallel()
	for got, want := range map[string]string{
		enumName(liaisonv1.NetworkRole_NETWORK_ROLE_DOCUMENT_FORGER):                                  "document-forger",
		enumName(liaisonv1.LeadStatus_LEAD_STATUS_UNSPECIFIED):                                        "-",
		crimeAreaName(liaisonv1.CrimeArea_CRIME_AREA_TELECOM_AND_ONLINE_FRAUD):                        "telecom-fraud",
		evaluation(&liaisonv1.Evaluation{SourceReliability: 4, InformationAccuracy: 3}):               "X3",
		handling(&liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H1}):                  "H1",
		handling(&liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H3, Conditions: "c"}): "H3: c",
		date(&liaisonv1.Date{Year: 1980, Month: 3}):                                                   "1980-03",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestUpdateMask(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, patch string
		want        []string
		wantErr     string
	}{
		{name: "JSONNames", patch: `{"crimeAreas": [], "title": "t", "originatorReference": null}`, want: []string{"title", "crime_areas", "originator_reference"}},
		{name: "ProtoNames", patch: `{"review_date": {}, "crime_areas": []}`, want: []string{"crime_areas", "review_date"}},
		{name: "IDAndEtagAreNotFields", patch: `{"id": "x", "etag": "e", "summary": "s"}`, want: []string{"summary"}},
		{name: "Empty", patch: `{}`, wantErr: "names no field"},
		{name: "OnlyEtag", patch: `{"etag": "e"}`, wantErr: "names no field"},
		{name: "Unknown", patch: `{"titel": "t"}`, wantErr: `unknown field "titel"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := updateMask([]byte(tc.patch), (&liaisonv1.Lead{}).ProtoReflect().Descriptor())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("mask (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOutcomeFilter(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"OK": "OK", "ok": "OK", "PERMISSION_DENIED": "PERMISSION_DENIED", "permission-denied": "PERMISSION_DENIED",
		"PermissionDenied": "PERMISSION_DENIED", "failedprecondition": "FAILED_PRECONDITION", "something": "something",
	} {
		if got := outcomeFilter(in); got != want {
			t.Errorf("outcomeFilter(%q) = %q, want %q", in, got, want)
		}
	}
}

// Unreachable: the error says where it went and with which certificate.
func TestRun_Unreachable(t *testing.T) {
	t.Parallel()
	pki := nodetest.NewPKI(t, "alpha")
	lis := nodetest.Listen(t)
	addr := lis.Addr().String()
	lis.Close()
	cert := pki.Path("alpha", "analyst.crt")
	r := ctl(t, "", "leads", "list", "--timeout", "5s", "--addr", addr, "--ca", pki.Path("alpha", "ca.crt"), "--cert", cert, "--key", pki.Path("alpha", "analyst.key"))
	r.wantCode(t, exitFailed)
	wantContains(t, "stderr", r.stderr, "error: UNAVAILABLE: ", "could not reach the node at "+addr, "certificate "+cert)

	// A create that may not have happened says how to retry it safely.
	r = ctl(t, "", "leads", "create", "-f", writeFile(t, leadJSON), "--addr", addr, "--ca", pki.Path("alpha", "ca.crt"), "--cert", cert, "--key", pki.Path("alpha", "analyst.key"))
	r.wantCode(t, exitFailed)
	wantContains(t, "stderr", r.stderr, "error: UNAVAILABLE: ", "could not reach the node at "+addr, "the lead may or may not have been created: repeat with --request-id ")
}

// A node whose certificate the given CA did not issue: the handshake fails
// and the error still says where and as whom.
func TestRun_WrongCA(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	r := ctl(t, "", "leads", "list", "--addr", n.Addr(), "--ca", n.PKI.Path("bravo", "ca.crt"),
		"--cert", n.PKI.Path("alpha", "analyst.crt"), "--key", n.PKI.Path("alpha", "analyst.key"))
	r.wantCode(t, exitFailed)
	wantContains(t, "stderr", r.stderr, "error: UNAVAILABLE: ", "could not reach the node at "+n.Addr(), "certificate")
}

func TestRun_BadCertFile(t *testing.T) {
	t.Parallel()
	pki := nodetest.NewPKI(t, "alpha")
	r := ctl(t, "", "leads", "list", "--addr", net.JoinHostPort("127.0.0.1", "1"), "--ca", pki.Path("alpha", "ca.crt"),
		"--cert", pki.Path("alpha", "nobody.crt"), "--key", pki.Path("alpha", "nobody.key"))
	r.wantCode(t, exitFailed)
	wantContains(t, "stderr", r.stderr, "error: connect to 127.0.0.1:1: certificate: ", "nobody.crt")
}
