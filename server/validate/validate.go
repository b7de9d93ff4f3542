// Package validate checks messages against the rules written in the .proto
// files (protovalidate) and reports violations as INVALID_ARGUMENT with a
// google.rpc.BadRequest field violation per broken rule.
package validate

import (
	"errors"
	"fmt"

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
		if prefix != "" {
			if field == "" {
				field = prefix
			} else {
				field = prefix + "." + field
			}
		}
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
