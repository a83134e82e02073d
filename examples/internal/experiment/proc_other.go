//go:build !unix

package experiment

import "syscall"

// childAttr returns nil: no process attributes where there is no Unix.
func childAttr() *syscall.SysProcAttr { return nil }
