package main

import "strings"

// Help text is kept with the commands: each group and command in the
// registry carries its synopsis, summary and, where there is more to say,
// a detail paragraph; each flag carries its usage string. 'liaisonctl help'
// prints from the registry (see usage in registry.go), so nothing here is a
// copy of it. help_test.go checks that every command has its text and is
// listed.

// helpWidth is the column help paragraphs are wrapped at.
const helpWidth = 78

// exitUsageText ends the top-level help.
const exitUsageText = `exit status: 0 success, 1 an error from the node or in reaching it,
2 a usage error, 3 an audit chain that does not verify.

`

// groupDetails and commandDetails hold the detail of groups and commands
// whose registration in their own file carries none, by group name and by
// "GROUP COMMAND". The manifest commands' details are here so that
// manifests.go keeps only its requests.
var (
	groupDetails = map[string]string{
		"manifests": "The sending agency's node is a manifest's home; on the receiving agency's node review, accept, handover, " +
			"cancel and the holds are proposals the home node applies, and the command prints the pending action " +
			"(\"proposed to alpha: review of person X (pending — alpha applies it)\"). A step a protection safeguard blocks " +
			"fails with FAILED_PRECONDITION listing each person, rule and what clears it.",
	}
	commandDetails = map[string]string{
		"manifests get": "Shows the header; the persons with every status (nationality, fitness, vulnerabilities, handover, holds); " +
			"on the sending node the screenings (never on a receiving node); on the receiving node its pending actions; and the history.",
		"manifests update":  "Without --etag the manifest is read first.",
		"manifests history": "Every step with time, agency, officer, action, person, note and state; on this node also its local notes.",
	}
)

// helpDetail is the group's detail paragraph, or "".
func (g *group) helpDetail() string {
	if g.detail != "" {
		return g.detail
	}
	return groupDetails[g.name]
}

// commandDetail is the detail paragraph of c, one of g's commands, or "".
func (g *group) commandDetail(c *command) string {
	if c.detail != "" {
		return c.detail
	}
	return commandDetails[strings.TrimSpace(g.name+" "+c.name)]
}

// wrap breaks text into lines of at most width columns (a longer word
// stands alone), each starting with indent.
func wrap(text, indent string, width int) string {
	var b strings.Builder
	line := 0
	for _, w := range strings.Fields(text) {
		n := len([]rune(w))
		switch {
		case line == 0:
			b.WriteString(indent)
			line = len(indent)
		case line+1+n > width:
			b.WriteString("\n" + indent)
			line = len(indent)
		default:
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += n
	}
	return b.String()
}
