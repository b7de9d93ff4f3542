// Package paging makes and reads the opaque page tokens of List methods.
// A token carries the position after the last item returned and a
// fingerprint of the filters it was made for: reusing it with other filters
// is INVALID_ARGUMENT rather than a silently wrong page.
package paging

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/liaison-exchange/liaison/server/errs"
)

// Default and Max are the page sizes of every List method.
const (
	Default = 50
	Max     = 1000
)

// Size returns the effective page size for a requested one.
func Size(requested int32) int {
	switch {
	case requested <= 0:
		return Default
	case requested > Max:
		return Max
	}
	return int(requested)
}

type token struct {
	After   string `json:"a"`
	Filters string `json:"f"`
}

// Fingerprint summarises the filters of a request.
func Fingerprint(filters ...any) string {
	sum := sha256.Sum256(fmt.Append(nil, filters...))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// Encode makes the token for the page after position "after".
func Encode(after, fingerprint string) string {
	b, _ := json.Marshal(token{After: after, Filters: fingerprint})
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode reads a token ("" for the first page).
func Decode(tok, fingerprint string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	var t token
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.After == "" {
		return "", errs.Invalid("page_token", "is not a token this service issued")
	}
	if t.Filters != fingerprint {
		return "", errs.Invalid("page_token", "was issued for other filters; keep the filters unchanged while paging")
	}
	return t.After, nil
}
