package records

import (
	"fmt"

	"github.com/liaison-exchange/liaison/server/errs"
)

// CheckPartners refuses (INVALID_ARGUMENT, at partners[i]) a record
// shared with an agency that is not a partner of this node.
func CheckPartners(partners map[string]bool, named []string) error {
	var bad []errs.FieldViolation
	for i, p := range named {
		if !partners[p] {
			bad = append(bad, errs.FieldViolation{Field: fmt.Sprintf("partners[%d]", i), Description: fmt.Sprintf("%q is not a partner of this node", p)})
		}
	}
	return errs.InvalidFields(bad)
}
