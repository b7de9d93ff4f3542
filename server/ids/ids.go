// Package ids makes and checks record ids: UUIDs in their canonical
// 36-character hyphenated form, the only spelling the API accepts (as the
// protovalidate `uuid` rule does), so one record has one id.
package ids

import "github.com/google/uuid"

// New returns a new time-ordered id (UUIDv7).
func New() string { return uuid.Must(uuid.NewV7()).String() }

// Valid says whether s is a UUID written in canonical form
// (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, hexadecimal digits).
func Valid(s string) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}
