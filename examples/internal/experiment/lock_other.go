//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package experiment

import "os"

// tryLock reports errNoLocks where flock(2) does not exist: cells run
// unlocked there, with a warning.
func tryLock(*os.File) (bool, error) { return false, errNoLocks }

// unlock does nothing where flock(2) does not exist.
func unlock(*os.File) {}
