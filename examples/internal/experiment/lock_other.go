//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package experiment

import "os"

// tryLock always succeeds where flock(2) does not exist: cells are not
// exclusive there.
func tryLock(*os.File) (bool, error) { return true, nil }

// unlock does nothing where flock(2) does not exist.
func unlock(*os.File) {}
