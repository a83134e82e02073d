//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package experiment

import (
	"os"
	"syscall"
)

// tryLock takes an exclusive flock(2) on f without waiting; it reports
// false when another open file holds it, and errNoLocks when the file
// system takes no locks (an NFS mount without a lock manager).
func tryLock(f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch err {
		case nil:
			return true, nil
		case syscall.EINTR:
			continue
		case syscall.EWOULDBLOCK:
			return false, nil
		case syscall.ENOLCK, syscall.EOPNOTSUPP, syscall.ENOSYS:
			return false, errNoLocks
		}
		return false, err
	}
}

// unlock drops the flock on f.
func unlock(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
