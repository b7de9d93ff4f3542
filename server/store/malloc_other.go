//go:build !linux || !cgo

package store

func keepFreed() bool { return false }
