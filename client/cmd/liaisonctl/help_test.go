package main

import (
	"context"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

// helpProblems lists what is wrong with the help of the groups gs: a group
// or command without a summary, a flag without a usage string, a command
// that top (the output of 'liaisonctl help') does not list, or whose own
// help (commandHelp, the output of 'liaisonctl help GROUP COMMAND') lacks
// its synopsis, summary, detail or one of its flags.
func helpProblems(gs []*group, top string, commandHelp func(g *group, c *command) string) []string {
	var problems []string
	lines := strings.Split(top, "\n")
	listed := func(prefix, suffix string) bool {
		return slices.ContainsFunc(lines, func(l string) bool {
			return strings.HasPrefix(l, prefix) && strings.HasSuffix(l, suffix)
		})
	}
	for _, g := range gs {
		if g.summary == "" {
			problems = append(problems, "group "+g.name+" has no summary")
		}
		if !listed(g.name+": ", g.summary) {
			problems = append(problems, "help does not list group "+g.name)
		}
		if len(g.commands) == 0 {
			problems = append(problems, "group "+g.name+" has no commands")
		}
		for _, c := range g.commands {
			name := strings.TrimSpace(g.name + " " + c.name)
			shown := c.name
			if shown == "" {
				shown = g.name
			}
			if c.summary == "" {
				problems = append(problems, name+" has no summary")
			}
			if !listed("  "+shown+" ", c.summary) {
				problems = append(problems, "help does not list "+name)
			}
			own := commandHelp(g, c)
			if !strings.Contains(own, strings.TrimSpace("usage: liaisonctl "+name+" "+c.synopsis)+"\n") {
				problems = append(problems, "help "+name+" does not show its synopsis")
			}
			if !strings.Contains(own, c.summary) {
				problems = append(problems, "help "+name+" does not show its summary")
			}
			if d := g.commandDetail(c); d != "" && !strings.Contains(own, wrap(d, "", helpWidth)) {
				problems = append(problems, "help "+name+" does not show its detail")
			}
			fs := flag.NewFlagSet(name, flag.ContinueOnError)
			c.setup(fs)
			fs.VisitAll(func(f *flag.Flag) {
				if strings.TrimSpace(f.Usage) == "" {
					problems = append(problems, name+" "+flagName(f.Name)+" has no usage text")
				}
				if !strings.Contains(own, "  "+flagName(f.Name)) {
					problems = append(problems, "help "+name+" does not show "+flagName(f.Name))
				}
			})
		}
	}
	return problems
}

// helpOutput runs 'liaisonctl help ARGS...' and returns what it printed.
func helpOutput(t *testing.T, args ...string) string {
	t.Helper()
	var stdout strings.Builder
	if code := run(context.Background(), append([]string{"help"}, args...), strings.NewReader(""), &stdout, io.Discard); code != exitOK {
		t.Fatalf("liaisonctl help %s: exit status %d", strings.Join(args, " "), code)
	}
	return stdout.String()
}

func commandHelpOf(t *testing.T) func(g *group, c *command) string {
	return func(g *group, c *command) string {
		if c.name == "" {
			return helpOutput(t, g.name)
		}
		return helpOutput(t, g.name, c.name)
	}
}

// TestHelp_EveryCommand: 'liaisonctl help' is printed from the registry, so
// every registered command must carry its own help text and be listed.
func TestHelp_EveryCommand(t *testing.T) {
	t.Parallel()
	gs := sortedGroups()
	if len(gs) < 10 {
		t.Fatalf("only %d groups registered", len(gs))
	}
	for _, p := range helpProblems(gs, helpOutput(t), commandHelpOf(t)) {
		t.Error(p)
	}
}

// TestHelp_ProblemsFound: the check above fails when a command is missing
// from help or has no help text.
func TestHelp_ProblemsFound(t *testing.T) {
	t.Parallel()
	gs := sortedGroups()
	top := helpOutput(t)

	t.Run("UnlistedCommand", func(t *testing.T) {
		// Drop the line of one command from the top-level help.
		g := groups["leads"]
		c := g.command("withdraw")
		var kept []string
		for _, l := range strings.Split(top, "\n") {
			if !(strings.HasPrefix(l, "  withdraw ") && strings.HasSuffix(l, c.summary)) {
				kept = append(kept, l)
			}
		}
		got := helpProblems(gs, strings.Join(kept, "\n"), commandHelpOf(t))
		if !slices.Contains(got, "help does not list leads withdraw") {
			t.Errorf("problems = %q, want one for leads withdraw", got)
		}
	})

	t.Run("MissingText", func(t *testing.T) {
		bare := &group{name: "bare", summary: "a group", commands: []*command{
			{name: "nothing", setup: func(fs *flag.FlagSet) handler {
				fs.String("quiet", "", "")
				return nil
			}},
		}}
		got := helpProblems([]*group{bare}, "bare: a group\n", func(*group, *command) string { return "" })
		for _, want := range []string{
			"bare nothing has no summary",
			"bare nothing --quiet has no usage text",
			"help bare nothing does not show its synopsis",
			"help bare nothing does not show --quiet",
		} {
			if !slices.Contains(got, want) {
				t.Errorf("problems = %q, want %q", got, want)
			}
		}
	})

	t.Run("MissingDetail", func(t *testing.T) {
		g := groups["manifests"]
		c := g.command("history")
		if g.commandDetail(c) == "" {
			t.Fatal("manifests history has no detail to miss")
		}
		got := helpProblems([]*group{g}, top, func(g *group, c2 *command) string {
			out := commandHelpOf(t)(g, c2)
			if c2 == c {
				out = strings.Replace(out, wrap(g.commandDetail(c), "", helpWidth), "", 1)
			}
			return out
		})
		if !slices.Equal(got, []string{"help manifests history does not show its detail"}) {
			t.Errorf("problems = %q, want only the missing detail of manifests history", got)
		}
	})
}

func TestWrap(t *testing.T) {
	t.Parallel()
	got := wrap("one two three four five", "  ", 12)
	want := "  one two\n  three four\n  five"
	if got != want {
		t.Errorf("wrap = %q, want %q", got, want)
	}
	if got := wrap("a-very-long-word x", "", 5); got != "a-very-long-word\nx" {
		t.Errorf("wrap of a long word = %q", got)
	}
}
