//go:build unix && !linux

package experiment

import "syscall"

// childAttr returns the attributes of a cell's child process: its own
// process group, so that a terminal's Ctrl-C reaches it once, forwarded by
// the parent. Only Linux can also tie its life to the parent's (Pdeathsig).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
