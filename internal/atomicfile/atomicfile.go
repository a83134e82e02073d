// Package atomicfile writes files so that a crash or an error never leaves a
// half-written file under the final name: the content goes to a temporary
// file in the same directory, which is synced and renamed over the target
// only when writing succeeded. Checkpoints, exported models, downloads,
// metrics logs, tables and figures all go through it.
package atomicfile

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pkg/errors"
)

// Write writes path through write. On any error the temporary file is
// removed and an existing file at path is left untouched; on success path
// holds the whole new content, with mode 0644, and the rename is synced to
// the directory where the platform supports it.
func Write(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return errors.Wrapf(err, "write %s", path)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp); err != nil {
		return errors.Wrapf(err, "write %s", path)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return errors.Wrapf(err, "write %s", path)
	}
	if err = tmp.Sync(); err != nil {
		return errors.Wrapf(err, "sync %s", path)
	}
	if err = tmp.Close(); err != nil {
		return errors.Wrapf(err, "close %s", path)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return errors.Wrapf(err, "rename into %s", path)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync() // make the rename durable; not every file system supports it
		d.Close()
	}
	return nil
}

// tempSuffix matches what os.CreateTemp puts for the "*" of Write's
// temporary names: a decimal random number.
var tempSuffix = regexp.MustCompile(`^[0-9]+$`)

// StaleTemps returns the paths of the temporary files Write left in dir
// for targets named as match accepts: files "." + name + ".tmp-" + digits,
// which exist only while a write is under way or after a process died
// during one (a kill before the rename). Only regular files are listed.
// The caller knows no write to those targets is under way.
func StaleTemps(dir string, match func(name string) bool) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, errors.Wrapf(err, "temporary files in %s", dir)
	}
	var out []string
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), ".")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		k := strings.LastIndex(rest, ".tmp-")
		if k < 0 || !tempSuffix.MatchString(rest[k+len(".tmp-"):]) || !match(rest[:k]) {
			continue
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	return out, nil
}
