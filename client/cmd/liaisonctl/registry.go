package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// A group is a noun of the command line ("leads", "audit") holding its
// verbs. Each group lives in its own file and registers itself from init,
// so adding one never touches the dispatcher.
type group struct {
	name    string
	summary string
	// detail, if any, is what 'liaisonctl help GROUP' says about the group
	// beyond its summary: one paragraph, wrapped when printed.
	detail   string
	commands []*command
}

// A command is one verb of a group, usually one RPC. A group whose only
// command has no name ("search") is itself the command: its flags and
// arguments follow the group's name.
type command struct {
	name string
	// synopsis follows "liaisonctl GROUP COMMAND" in usage, e.g.
	// "ID --reason TEXT [--etag E]".
	synopsis string
	summary  string
	// detail, if any, is what 'liaisonctl help GROUP COMMAND' says beyond
	// the summary: one paragraph, wrapped when printed. The flags' own
	// usage strings are printed after it.
	detail string
	// args names the positional arguments; the command gets exactly these,
	// unless the last name ends in "..." ("NAME..."): then any number of
	// words, none included, stand for it.
	args []string
	// setup defines the command's flags on fs, binding them to its own
	// variables, and returns what runs the command once they are parsed.
	setup func(fs *flag.FlagSet) handler
}

// A handler runs a command with its positional arguments.
type handler func(ctx context.Context, c *cli, args []string) error

var groups = map[string]*group{}

// register adds a group; called from init in the group's file.
func register(g *group) {
	if _, dup := groups[g.name]; dup {
		panic("liaisonctl: group " + g.name + " registered twice")
	}
	groups[g.name] = g
}

func (g *group) command(name string) *command {
	for _, c := range g.commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// self is the command a group is itself ("search"), or nil.
func (g *group) self() *command { return g.command("") }

func sortedGroups() []*group {
	gs := make([]*group, 0, len(groups))
	for _, g := range groups {
		gs = append(gs, g)
	}
	slices.SortFunc(gs, func(a, b *group) int { return strings.Compare(a.name, b.name) })
	return gs
}

// globals are the flags every command accepts.
type globals struct {
	addr, ca, cert, key string
	output              string
	timeout             time.Duration
}

func (g *globals) define(fs *flag.FlagSet) {
	fs.StringVar(&g.addr, "addr", "", "")
	fs.StringVar(&g.ca, "ca", "", "")
	fs.StringVar(&g.cert, "cert", "", "")
	fs.StringVar(&g.key, "key", "", "")
	fs.StringVar(&g.output, "o", "table", "")
	fs.StringVar(&g.output, "output", "table", "")
	fs.DurationVar(&g.timeout, "timeout", defaultTimeout, "")
}

// globalUsage is written by hand: the flag package would list -o and
// --output twice and show the environment's values as defaults.
const globalUsage = `global flags (anywhere on the line):
  --addr HOST:PORT      node address (default $LIAISON_ADDR)
  --ca FILE             CA certificate that issued the node's certificate (default $LIAISON_CA)
  --cert FILE           your certificate (default $LIAISON_CERT)
  --key FILE            your private key (default $LIAISON_KEY)
  -o, --output FORMAT   table or json (default table)
  --timeout DURATION    deadline of each call, 0 for none (default 30s)
`

// invocation is a parsed command line.
type invocation struct {
	globals globals
	group   *group
	cmd     *command
	run     handler
	args    []string
	// help is set by -h, --help or a leading "help" word.
	help bool
	// flags holds the global and, once the command is known, its own flags.
	flags *flag.FlagSet
}

// parse reads a command line. Flags and positionals interleave: the flag
// package stops at the first positional, so this walks the line itself and
// defines a command's flags as soon as its name has been read.
func parse(args []string) (*invocation, error) {
	inv := &invocation{flags: flag.NewFlagSet("liaisonctl", flag.ContinueOnError)}
	inv.flags.SetOutput(io.Discard)
	inv.globals.define(inv.flags)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			for _, p := range args[i+1:] {
				if err := inv.positional(p); err != nil {
					return inv, err
				}
			}
			break
		}
		if len(a) < 2 || a[0] != '-' {
			if err := inv.positional(a); err != nil {
				return inv, err
			}
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		if name == "h" || name == "help" {
			inv.help = true
			continue
		}
		f := inv.flags.Lookup(name)
		if f == nil {
			return inv, usageErrorf("unknown flag %s", flagName(name))
		}
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			if !hasValue {
				value = "true"
			}
		} else if !hasValue {
			if i+1 == len(args) {
				return inv, usageErrorf("flag %s needs a value", flagName(name))
			}
			i++
			value = args[i]
		}
		if err := inv.flags.Set(name, value); err != nil {
			return inv, usageErrorf("invalid value %q for flag %s: %v", value, flagName(name), err)
		}
		if mw, ok := f.Value.(multiWordValue); ok {
			for i+1 < len(args) && mw.Continue(args[i+1]) {
				i++
			}
		}
	}
	if inv.help || inv.cmd == nil {
		return inv, nil
	}
	want := inv.cmd.args
	fixed, variadic := len(want), len(want) > 0 && strings.HasSuffix(want[len(want)-1], "...")
	if variadic {
		fixed--
	}
	if len(inv.args) < fixed || (!variadic && len(inv.args) > fixed) {
		takes := "no arguments"
		if len(want) > 0 {
			takes = strings.Join(want, " ")
		}
		return inv, usageErrorf("%s takes %s, got %q", inv.name(), takes, inv.args)
	}
	switch inv.globals.output {
	case outputTable, outputJSON:
	default:
		return inv, usageErrorf("invalid output format %q: want table or json", inv.globals.output)
	}
	return inv, nil
}

// positional takes the next word: "help", the group, the command, or one
// of the command's arguments.
func (inv *invocation) positional(w string) error {
	switch {
	case inv.group == nil && w == "help" && !inv.help:
		inv.help = true
	case inv.group == nil:
		if inv.group = groups[w]; inv.group == nil {
			return usageErrorf("unknown command %q", w)
		}
		if c := inv.group.self(); c != nil {
			inv.cmd, inv.run = c, c.setup(inv.flags)
		}
	case inv.cmd == nil:
		if inv.cmd = inv.group.command(w); inv.cmd == nil {
			return usageErrorf("unknown command %q in %s", w, inv.group.name)
		}
		inv.run = inv.cmd.setup(inv.flags)
	default:
		inv.args = append(inv.args, w)
	}
	return nil
}

// multiWordValue is a flag value that may run over several words of the
// line: after its value, the words it accepts are its own too (a phone
// number typed with spaces and not quoted).
type multiWordValue interface {
	flag.Value
	// Continue adds word to the value and reports whether it did.
	Continue(word string) bool
}

// name is the command as typed: "leads get", or "search".
func (inv *invocation) name() string {
	return strings.TrimSpace(inv.group.name + " " + inv.cmd.name)
}

// usage writes the help of what the line named so far: everything, a group
// or a command.
func (inv *invocation) usage(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	switch {
	case inv.group == nil:
		fmt.Fprint(tw, "usage: liaisonctl [global flags] GROUP COMMAND [flags] [args]\n       liaisonctl help [GROUP [COMMAND]]\n\n")
		for _, g := range sortedGroups() {
			fmt.Fprintf(tw, "%s: %s\n", g.name, g.summary)
			for _, c := range g.commands {
				name := c.name
				if name == "" {
					name = g.name
				}
				fmt.Fprintf(tw, "  %s\t%s\n", name, c.summary)
			}
			fmt.Fprintln(tw)
		}
		fmt.Fprint(tw, "'liaisonctl help GROUP COMMAND' shows a command's arguments and flags.\n\n")
		fmt.Fprint(tw, exitUsageText)
	case inv.cmd == nil:
		fmt.Fprintf(tw, "usage: liaisonctl %s COMMAND [flags] [args]\n\n%s\n\n", inv.group.name, inv.group.summary)
		if d := inv.group.helpDetail(); d != "" {
			fmt.Fprintf(tw, "%s\n\n", wrap(d, "", helpWidth))
		}
		for _, c := range inv.group.commands {
			fmt.Fprintf(tw, "  %s\n      %s\n", strings.TrimSpace("liaisonctl "+inv.group.name+" "+c.name+" "+c.synopsis), c.summary)
		}
		fmt.Fprintln(tw)
	default:
		fmt.Fprintf(tw, "usage: %s\n\n%s\n", strings.TrimSpace("liaisonctl "+inv.name()+" "+inv.cmd.synopsis), inv.cmd.summary)
		if d := inv.group.commandDetail(inv.cmd); d != "" {
			fmt.Fprintf(tw, "\n%s\n", wrap(d, "", helpWidth))
		}
		// Only the command's own flags: a throwaway set holds just them.
		own := flag.NewFlagSet(inv.cmd.name, flag.ContinueOnError)
		inv.cmd.setup(own)
		first := true
		own.VisitAll(func(f *flag.Flag) {
			if first {
				fmt.Fprint(tw, "\nflags:\n")
				first = false
			}
			typ, text := flag.UnquoteUsage(f)
			switch typ {
			case "":
			case "value":
				typ = " VALUE"
			default:
				typ = " " + typ
			}
			fmt.Fprintf(tw, "  %s%s\t%s\n", flagName(f.Name), typ, text)
		})
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprint(w, globalUsage)
}

// flagName spells a flag as usage shows it: -f, --request-id.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}
