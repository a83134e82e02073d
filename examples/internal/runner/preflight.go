package runner

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/graph/g2gnet"
)

// This file holds what a run checks before it trains, so that a mistake
// costs seconds rather than a training run: output paths that cannot be
// written, two flags naming one file, a model too large for the machine.

// outputFlags returns the output files o names, by flag.
func outputFlags(o *Options) [][2]string {
	var out [][2]string
	for _, f := range [][2]string{{"-save", o.Save}, {"-export", o.Export}, {"-log", o.Log}, {"-cpuprofile", o.CPUProfile}} {
		if f[1] != "" {
			out = append(out, f)
		}
	}
	return out
}

// checkOutputs checks, before training, that every output file o names
// can be written — its directory exists and takes a new file, and the path
// is not a directory — and that no two flags name the same file (one
// would overwrite the other).
func checkOutputs(o *Options) error {
	outs := outputFlags(o)
	for _, f := range outs {
		flag, path := f[0], f[1]
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			return errors.Errorf("%s %s: is a directory, want a file name", flag, path)
		}
		dir := filepath.Dir(path)
		st, err := os.Stat(dir)
		switch {
		case err != nil:
			return errors.Errorf("%s %s: directory %s: %v", flag, path, dir, errors.Cause(err))
		case !st.IsDir():
			return errors.Errorf("%s %s: %s is not a directory", flag, path, dir)
		}
		// The writers create a temporary file there and rename it.
		tmp, err := os.CreateTemp(dir, ".g2g-write-check-*")
		if err != nil {
			return errors.Errorf("%s %s: cannot create files in %s: %v", flag, path, dir, errors.Cause(err))
		}
		tmp.Close()
		os.Remove(tmp.Name())
	}
	for i, a := range outs {
		for _, b := range outs[i+1:] {
			if sameFile(a[1], b[1]) {
				return errors.Errorf("%s %s and %s %s name the same file: one would overwrite the other", a[0], a[1], b[0], b[1])
			}
		}
	}
	return nil
}

// sameFile reports whether two paths name one file: the same absolute
// path once cleaned and the directories' symbolic links resolved, or
// existing files that os.SameFile identifies (hard links included).
func sameFile(a, b string) bool {
	canon := func(p string) string {
		abs, err := filepath.Abs(p)
		if err != nil {
			return filepath.Clean(p)
		}
		if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
			return filepath.Join(dir, filepath.Base(abs))
		}
		return abs
	}
	if canon(a) == canon(b) {
		return true
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// writeOrKeep writes an output of the run with write. When that fails late
// (a full disk, a directory removed during training), it writes the output
// into the temporary directory instead, so that the training is not lost,
// and its error says where.
func writeOrKeep(flag, path string, write func(path string) error) error {
	err := write(path)
	if err == nil {
		return nil
	}
	f, kerr := os.CreateTemp("", "g2g-*-"+filepath.Base(path))
	if kerr == nil {
		f.Close()
		if kerr = write(f.Name()); kerr == nil {
			return errors.Errorf("%s %s: %v; it was written to %s instead", flag, path, err, f.Name())
		}
		os.Remove(f.Name())
	}
	return errors.Errorf("%s %s: %v (writing it to the temporary directory failed too: %v)", flag, path, err, kerr)
}

// Bytes per weight that training surely allocates: the value, its
// gradient and Adam's two moments, and for a masked (G2G) weight its mask.
const (
	bytesPerDenseWeight  = 16
	bytesPerMaskedWeight = 20
)

// checkMemory estimates a lower bound of the memory training the model o
// describes needs — parameters with their gradients, optimizer state and
// masks, and the activations of a batch with their gradients (or of an
// evaluation batch of 1000) — and refuses it, naming the flag, when it
// exceeds the memory available (see availableMemory), before anything is
// allocated.
func checkMemory(ds *Dataset, o *Options) error {
	hidden, err := o.HiddenWidths()
	if err != nil {
		return err
	}
	input := 784
	if ds.CIFAR {
		input = g2gnet.CIFARReference(10).MLPConfig.Input
	}
	classes := 10
	if ds.Classes != nil {
		classes = ds.Classes(o)
	}
	widths := append(append([]int{input}, hidden...), classes)
	perHidden := float64(bytesPerDenseWeight)
	if o.Model.Sparse() {
		perHidden = bytesPerMaskedWeight
	}
	var weights, bytes, units float64
	for k := 1; k < len(widths); k++ {
		w := float64(widths[k-1]) * float64(widths[k])
		weights += w
		if k < len(widths)-1 {
			bytes += w * perHidden
		} else {
			bytes += w * bytesPerDenseWeight // the output layer is dense
		}
		units += float64(widths[k])
	}
	bytes += units * max(8*float64(o.Batch), 4*1000)
	avail, source := availableMemory()
	if avail > 0 && bytes > float64(avail) {
		return errors.Errorf("-hidden %s: the model needs at least %s (%.3g weights with their gradients, optimizer state and masks, and a batch's activations), more than the %s of %s",
			o.Hidden, humanBytes(bytes), weights, humanBytes(float64(avail)), source)
	}
	return nil
}

// humanBytes formats a byte count, e.g. "160 GB".
func humanBytes(b float64) string {
	for _, u := range []string{"B", "kB", "MB", "GB", "TB", "PB"} {
		if b < 1000 {
			return fmt.Sprintf("%.3g %s", b, u)
		}
		b /= 1000
	}
	return fmt.Sprintf("%.3g EB", b)
}

// availableMemory returns the memory the process may use and where that
// figure comes from: the smallest of the memory available on the machine
// (/proc/meminfo's MemAvailable), its cgroup's limit and its address-space
// limit (ulimit -v). It returns 0 when none is known. The Go runtime's
// memory limit (GOMEMLIMIT) is a target the collector works towards, not a
// limit, so it does not count.
func availableMemory() (int64, string) {
	best, source := int64(0), ""
	consider := func(n int64, what string) {
		if n > 0 && (best == 0 || n < best) {
			best, source = n, what
		}
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
				if kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64); err == nil {
					consider(kb<<10, "memory available (/proc/meminfo)")
				}
			}
		}
		f.Close()
	}
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if b, err := os.ReadFile(p); err == nil {
			if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n < 1<<60 {
				consider(n, "the cgroup's memory limit ("+p+")")
			}
		}
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &rl); err == nil && rl.Cur != math.MaxUint64 && rl.Cur < 1<<62 {
		consider(int64(rl.Cur), "the address-space limit (ulimit -v)")
	}
	return best, source
}
