package main

import (
	"fmt"
	"strings"
	"testing"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// TestHandling_OutputShowsTheRestriction: the "liaisonctl output" row of
// README "Handling codes". Every command that prints a partner's lead
// prints its code and the originator with it; what the node withholds
// from the caller's role is printed as withheld, never as an empty record.
func TestHandling_OutputShowsTheRestriction(t *testing.T) {
	t.Parallel()
	alpha, bravo := startPair(t)
	leads := map[string]*liaisonv1.Lead{}
	for _, code := range []string{"H0", "H1", "H2", "H3"} {
		var l *liaisonv1.Lead
		if code == "H3" {
			// leadJSON is H3 with its conditions.
			var created liaisonv1.CreateLeadResponse
			alpha.ctl(t, "analyst", "leads", "create", "-f", writeFile(t, strings.Replace(leadJSON, "Kupang boats", code+" lead", 1)), "-o", "json").wantCode(t, exitOK).decode(t, &created)
			var released liaisonv1.ReleaseLeadResponse
			alpha.ctl(t, "supervisor", "leads", "release", created.GetLead().GetId(), "--to", "bravo", "-o", "json").wantCode(t, exitOK).decode(t, &released)
			l = released.GetLead()
		} else {
			l = alpha.createReleased(t, code+" lead", code, "bravo")
		}
		bravo.waitLead(t, l)
		leads[code] = l
	}
	meaning := map[string]string{
		"H0": "H0: use only for preventing and combating crime",
		"H1": "H1: not to be used in judicial proceedings without the permission of alpha",
		"H2": "H2: no further dissemination without the permission of alpha",
		"H3": "H3: conditions of alpha: not to be shared with third countries",
	}

	t.Run("GetAsAnalyst", func(t *testing.T) {
		for code, l := range leads {
			r := bravo.ctl(t, "analyst", "leads", "get", l.GetId()).wantCode(t, exitOK)
			wantContains(t, "stdout", r.stdout, "RESTRICTION:", meaning[code], code+" lead")
		}
	})
	t.Run("GetAsServiceWithheld", func(t *testing.T) {
		for _, code := range []string{"H2", "H3"} {
			r := bravo.ctl(t, "service", "leads", "get", leads[code].GetId()).wantCode(t, exitFailed)
			wantContains(t, "stderr", r.stderr, "FAILED_PRECONDITION", "handling."+strings.ToLower(code), "withheld from the agency's systems")
		}
		r := bravo.ctl(t, "service", "leads", "get", leads["H1"].GetId()).wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, meaning["H1"])
	})
	t.Run("List", func(t *testing.T) {
		r := bravo.ctl(t, "analyst", "leads", "list", "--origin", "alpha").wantCode(t, exitOK)
		for code := range leads {
			wantContains(t, "stdout", r.stdout, fmt.Sprintf("%s lead [%s of alpha]", code, code))
		}
		r = bravo.ctl(t, "service", "leads", "list", "--origin", "alpha").wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, "H0 lead [H0 of alpha]", "H1 lead [H1 of alpha]",
			"(withheld: H2 of alpha, needs alpha's permission)", "(withheld: H3 of alpha, needs alpha's permission)")
		if strings.Contains(r.stdout, "H2 lead") || strings.Contains(r.stdout, "H3 lead") {
			t.Errorf("the service role's list shows a withheld title:\n%s", r.stdout)
		}
	})
	t.Run("Watch", func(t *testing.T) {
		r := bravo.ctl(t, "service", "watch", "--once").wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, "H1 lead [H1 of alpha]", "(withheld: H2 of alpha, needs alpha's permission)")
		r = bravo.ctl(t, "analyst", "watch", "--once").wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, "H2 lead [H2 of alpha]", "H3 lead [H3 of alpha]")
	})
	t.Run("Search", func(t *testing.T) {
		r := bravo.ctl(t, "analyst", "search", "--document", "AB123456").wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, "H2 lead [H2 of alpha]", "H0 lead [H0 of alpha]")
		r = bravo.ctl(t, "service", "search", "--document", "AB123456").wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, "H1 lead [H1 of alpha]", "(withheld: H3 of alpha, needs alpha's permission)")
	})
}

// TestContact_ChosenOnRelease: the releasing officer's contact point
// reaches the partner, and the partner sees the officer by pseudonym only.
func TestContact_ChosenOnRelease(t *testing.T) {
	t.Parallel()
	alpha, bravo := startPair(t)
	var created liaisonv1.CreateLeadResponse
	alpha.ctl(t, "analyst", "leads", "create", "-f", writeFile(t, leadWithHandling("contact lead", "H0")), "-o", "json").wantCode(t, exitOK).decode(t, &created)
	id := created.GetLead().GetId()
	r := alpha.ctl(t, "supervisor", "leads", "release", id, "--to", "bravo", "--contact-desk", "Smuggling desk", "--contact-phone", "+6621234567").wantCode(t, exitOK)
	wantContains(t, "stdout", r.stdout, "CONTACT:", "Smuggling desk, +6621234567")
	l := bravo.waitLead(t, created.GetLead())
	if l.GetContact().GetDesk() != "Smuggling desk" || l.GetContact().GetPhone() != "+6621234567" {
		t.Errorf("contact on bravo: %v", l.GetContact())
	}
	r = bravo.ctl(t, "analyst", "leads", "get", id).wantCode(t, exitOK)
	wantContains(t, "stdout", r.stdout, "CONTACT:", "Smuggling desk, +6621234567", "by alpha/analyst/")
	if strings.Contains(r.stdout, "alice") {
		t.Errorf("bravo shows alpha's officer by name:\n%s", r.stdout)
	}
	r = alpha.ctl(t, "supervisor", "leads", "release", id, "--to", "bravo", "--contact-phone", "0812").wantCode(t, exitFailed)
	wantContains(t, "stderr", r.stderr, "INVALID_ARGUMENT", "contact.phone")
}
