package experiment

import "syscall"

// childAttr returns the attributes of a cell's child process: it dies with
// its parent (Pdeathsig: a g2g experiment killed even by SIGKILL takes its
// running cells along) and runs in its own process group, so that a
// terminal's Ctrl-C reaches it once, forwarded by the parent (see
// runLocal), not twice.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
