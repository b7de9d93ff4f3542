package records

import (
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/ids"
	"github.com/liaison-exchange/liaison/server/paging"
)

// Page is one page of a list of records ordered by id.
type Page struct {
	// After is the id the page starts after ("" for the first page).
	After string
	// Size is the number of records a page holds.
	Size int
	fp   string
}

// NewPage reads a list call's page token, which must have been issued for
// a call with the same filter (fingerprint fp, paging.Fingerprint), and
// its page size.
func NewPage(token string, size int32, fp string) (Page, error) {
	after, err := paging.Decode(token, fp)
	if err != nil {
		return Page{}, err
	}
	if after != "" && !ids.Valid(after) {
		return Page{}, errs.Invalid("page_token", "is not a token this service issued")
	}
	return Page{After: after, Size: paging.Size(size), fp: fp}, nil
}

// Cut cuts rs, read with a limit of Size+1, to the page, and returns the
// token of the next page ("" if this is the last).
func Cut[R interface{ GetId() string }](p Page, rs []R) ([]R, string) {
	if len(rs) <= p.Size {
		return rs, ""
	}
	rs = rs[:p.Size]
	return rs, paging.Encode(rs[p.Size-1].GetId(), p.fp)
}
