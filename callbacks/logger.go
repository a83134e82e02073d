package callbacks

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/internal/atomicfile"
)

// Formats accepted by NewMetricsLogger.
const (
	// FormatCSV writes comma-separated values with a header line.
	FormatCSV = "csv"
	// FormatJSONL writes one JSON object per line (JSON Lines).
	FormatJSONL = "jsonl"
)

// MetricsLogger is a callback that writes one record per epoch, at epoch
// end, in CSV or JSON Lines.
//
// A record holds "epoch" (counted from 0, like Keras's CSVLogger), "step"
// (the optimizer steps taken so far), every entry of Context.Logs and, for
// every sparse layer of Context.Sparse, "<layer>/density" and
// "<layer>/intra_fraction" (from its mask; the layer name is its Name()).
// Apart from epoch and step, which come first, keys are in sorted order. The
// logger's epoch and step take precedence over Logs entries of the same
// name. Values are formatted with strconv.FormatFloat(v, 'g', -1, 64).
//
// In CSV the header is written with the first record and is then fixed, as
// in Keras: keys that first appear in a later record are not written, and
// keys missing from a record leave an empty field. NaN and infinities are
// written "NaN", "+Inf" and "-Inf".
//
// In JSON Lines every record has all its keys; NaN and infinities, which
// JSON cannot hold, are written as null.
//
// Records are flushed to the writer at every epoch end. The logger is closed
// by OnTrainEnd; as Fit does not call OnTrainEnd when it stops on an error,
// also defer Close when the logger writes to a file.
type MetricsLogger struct {
	// BaseCallback supplies the hooks MetricsLogger does not use.
	graph.BaseCallback

	format string
	w      io.Writer
	file   *os.File // owned by the logger, closed by Close; nil otherwise
	csv    *csv.Writer
	header []string // CSV columns after epoch and step, once written
	closed bool
}

// NewMetricsLogger returns a logger writing records to w in the given
// format, FormatCSV ("csv") or FormatJSONL ("jsonl"). Close does not close
// w.
func NewMetricsLogger(w io.Writer, format string) (*MetricsLogger, error) {
	if w == nil {
		return nil, errors.New("metrics-logger: nil writer")
	}
	l := &MetricsLogger{format: format, w: w}
	switch format {
	case FormatCSV:
		l.csv = csv.NewWriter(w)
	case FormatJSONL:
	default:
		return nil, errors.Errorf("metrics-logger: unknown format %q (want %q or %q)", format, FormatCSV, FormatJSONL)
	}
	return l, nil
}

// NewCSVLogger returns a logger writing CSV records to the file at path,
// which it creates or truncates.
func NewCSVLogger(path string) (*MetricsLogger, error) {
	return newFileLogger(path, FormatCSV)
}

// NewJSONLLogger returns a logger writing JSON Lines records to the file at
// path, which it creates or truncates.
func NewJSONLLogger(path string) (*MetricsLogger, error) {
	return newFileLogger(path, FormatJSONL)
}

// AppendCSVLogger returns a logger that continues the CSV file at path, as
// a resumed run does: it keeps the records of epochs before fromEpoch (and
// the header, whose columns it keeps using), drops later ones — written by
// the interrupted run after its last checkpoint — and appends. A missing
// file is created.
func AppendCSVLogger(path string, fromEpoch int) (*MetricsLogger, error) {
	return appendFileLogger(path, FormatCSV, fromEpoch)
}

// AppendJSONLLogger is AppendCSVLogger for JSON Lines files.
func AppendJSONLLogger(path string, fromEpoch int) (*MetricsLogger, error) {
	return appendFileLogger(path, FormatJSONL, fromEpoch)
}

func appendFileLogger(path, format string, fromEpoch int) (*MetricsLogger, error) {
	old, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return newFileLogger(path, format)
	}
	if err != nil {
		return nil, errors.Wrap(err, "metrics-logger")
	}
	var keep bytes.Buffer
	var header []string
	for i, line := range strings.SplitAfter(string(old), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		epoch := -1
		if format == FormatCSV {
			fields := strings.Split(strings.TrimRight(line, "\r\n"), ",")
			if i == 0 {
				if len(fields) < 2 || fields[0] != "epoch" || fields[1] != "step" {
					return nil, errors.Errorf("metrics-logger: %s does not start with an epoch,step header", path)
				}
				header = fields[2:]
				keep.WriteString(line)
				continue
			}
			epoch, err = strconv.Atoi(fields[0])
		} else {
			var rec struct{ Epoch *int }
			if err = json.Unmarshal([]byte(line), &rec); err == nil && rec.Epoch != nil {
				epoch = *rec.Epoch
			} else if err == nil {
				err = errors.New("no epoch")
			}
		}
		if err != nil {
			return nil, errors.Errorf("metrics-logger: %s line %d: unreadable record (%v)", path, i+1, err)
		}
		if epoch < fromEpoch {
			keep.WriteString(line)
		}
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { _, err := w.Write(keep.Bytes()); return err }); err != nil {
		return nil, errors.Wrap(err, "metrics-logger")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, errors.Wrap(err, "metrics-logger")
	}
	l, err := NewMetricsLogger(f, format)
	if err != nil {
		f.Close()
		return nil, err
	}
	l.file, l.header = f, header
	return l, nil
}

func newFileLogger(path, format string) (*MetricsLogger, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, errors.Wrap(err, "metrics-logger")
	}
	l, err := NewMetricsLogger(f, format)
	if err != nil {
		f.Close()
		return nil, err
	}
	l.file = f
	return l, nil
}

// Name returns "metrics-logger".
func (l *MetricsLogger) Name() string { return "metrics-logger" }

// Format returns the logger's format, FormatCSV or FormatJSONL.
func (l *MetricsLogger) Format() string { return l.format }

// OnEpochEnd writes and flushes the epoch's record.
func (l *MetricsLogger) OnEpochEnd(c *graph.Context) error {
	if l.closed {
		return errors.New("metrics-logger: write after Close")
	}
	vals := make(map[string]float64, len(c.Logs)+2*len(c.Sparse))
	for k, v := range c.Logs {
		vals[k] = v
	}
	for _, s := range c.Sparse {
		if s == nil || s.Mask() == nil {
			continue
		}
		vals[s.Name()+"/density"] = s.Mask().Density()
		vals[s.Name()+"/intra_fraction"] = s.Mask().IntraFraction()
	}
	delete(vals, "epoch")
	delete(vals, "step")
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var err error
	if l.format == FormatCSV {
		err = l.writeCSV(c, keys, vals)
	} else {
		err = l.writeJSONL(c, keys, vals)
	}
	return errors.Wrap(err, "metrics-logger: write")
}

func (l *MetricsLogger) writeCSV(c *graph.Context, keys []string, vals map[string]float64) error {
	if l.header == nil {
		l.header = append([]string{}, keys...)
		if err := l.csv.Write(append([]string{"epoch", "step"}, l.header...)); err != nil {
			return err
		}
	}
	row := make([]string, 0, len(l.header)+2)
	row = append(row, strconv.Itoa(c.Epoch), strconv.Itoa(c.Step))
	for _, k := range l.header {
		if v, ok := vals[k]; ok {
			row = append(row, strconv.FormatFloat(v, 'g', -1, 64))
		} else {
			row = append(row, "")
		}
	}
	if err := l.csv.Write(row); err != nil {
		return err
	}
	l.csv.Flush()
	return l.csv.Error()
}

func (l *MetricsLogger) writeJSONL(c *graph.Context, keys []string, vals map[string]float64) error {
	var b bytes.Buffer
	b.WriteString(`{"epoch":`)
	b.WriteString(strconv.Itoa(c.Epoch))
	b.WriteString(`,"step":`)
	b.WriteString(strconv.Itoa(c.Step))
	for _, k := range keys {
		name, err := json.Marshal(k)
		if err != nil {
			return err
		}
		b.WriteByte(',')
		b.Write(name)
		b.WriteByte(':')
		if v := vals[k]; math.IsNaN(v) || math.IsInf(v, 0) {
			b.WriteString("null")
		} else {
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	b.WriteString("}\n")
	_, err := l.w.Write(b.Bytes())
	return err
}

// OnTrainEnd closes the logger.
func (l *MetricsLogger) OnTrainEnd(*graph.Context) error { return l.Close() }

// Close flushes the logger and closes its file if it opened one; it does
// not close a writer given to NewMetricsLogger. Records written after Close
// fail. Close may be called more than once; later calls return nil.
func (l *MetricsLogger) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	var err error
	if l.csv != nil {
		l.csv.Flush()
		err = l.csv.Error()
	}
	if l.file != nil {
		if cerr := l.file.Close(); err == nil {
			err = cerr
		}
	}
	return errors.Wrap(err, "metrics-logger: close")
}
