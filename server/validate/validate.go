// Package validate checks messages against the rules written in the .proto
// files (protovalidate) and reports violations as INVALID_ARGUMENT with a
// google.rpc.BadRequest field violation per broken rule.
package validate

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"

	"github.com/liaison-exchange/liaison/server/errs"
)

// Validator validates messages; it is safe for concurrent use.
type Validator struct {
	v protovalidate.Validator
}

// New builds a validator.
func New() (*Validator, error) {
	v, err := protovalidate.New()
	if err != nil {
		return nil, fmt.Errorf("protovalidate: %w", err)
	}
	return &Validator{v: v}, nil
}

// Validate checks msg. Field paths in violations are prefixed with prefix
// (e.g. "lead" when validating the merged lead of an update).
func (v *Validator) Validate(msg proto.Message, prefix string) error {
	err := v.v.Validate(msg)
	if err == nil {
		return nil
	}
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		// A rule that does not compile is a fault of ours, not the caller's.
		return fmt.Errorf("validate %T: %w", msg, err)
	}
	vs := make([]errs.FieldViolation, 0, len(verr.Violations))
	for _, viol := range verr.Violations {
		field := protovalidate.FieldPathString(viol.Proto.GetField())
		if viol.Proto.GetRuleId() == "field_mask.in" {
			// Named at the paths that break it, as a caller fixes them.
			vs = append(vs, maskViolations(prefixed(prefix, field), viol)...)
			continue
		}
		field = prefixed(prefix, field)
		desc := viol.Proto.GetMessage()
		if desc == "" {
			desc = viol.Proto.GetRuleId()
		}
		if id := viol.Proto.GetRuleId(); id != "" && id != desc {
			desc += " [" + id + "]"
		}
		vs = append(vs, errs.FieldViolation{Field: field, Description: desc})
	}
	return errs.InvalidFields(vs)
}

func prefixed(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	}
	return prefix + "." + field
}

// maskViolations are the violations of a field_mask.in rule, one per path
// of the mask the rule does not allow (a path in the list, or under one).
func maskViolations(field string, viol *protovalidate.Violation) []errs.FieldViolation {
	var allowed []string
	if l := viol.RuleValue; l.IsValid() {
		for i := range l.List().Len() {
			allowed = append(allowed, l.List().Get(i).String())
		}
	}
	var out []errs.FieldViolation
	if m := viol.FieldValue; m.IsValid() {
		paths := m.Message().Get(m.Message().Descriptor().Fields().ByName("paths")).List()
		for i := range paths.Len() {
			p := paths.Get(i).String()
			if slices.ContainsFunc(allowed, func(a string) bool { return p == a || strings.HasPrefix(p, a+".") }) {
				continue
			}
			out = append(out, errs.FieldViolation{Field: fmt.Sprintf("%s.paths[%d]", field, i),
				Description: fmt.Sprintf("%q cannot be updated (updatable: %s) [field_mask.in]", p, strings.Join(allowed, ", "))})
		}
	}
	if len(out) == 0 {
		out = append(out, errs.FieldViolation{Field: field, Description: viol.Proto.GetMessage() + " [field_mask.in]"})
	}
	return out
}
