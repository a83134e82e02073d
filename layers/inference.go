package layers

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"sort"
	"sync"

	"github.com/pkg/errors"
)

// InferenceOp computes a layer outside gorgonia, on n samples stored
// batch-major (sample after sample). The inference runtime of package graph
// (Model.Predict, Model.Evaluate and exported models) runs models as a
// sequence of such ops. An op may keep buffers between calls: it need not
// be safe for concurrent use.
type InferenceOp interface {
	// OutputSize returns the number of output values per sample.
	OutputSize() int
	// Forward computes the output y (n·OutputSize values) from the layer's
	// inputs, one slice of n·size values per input, in the order the layer
	// was applied to them.
	Forward(y []float32, inputs [][]float32, n int) error
}

// FeatureMajorOp is an InferenceOp of one input that can also run
// feature-major: one row per unit, the samples along the row. The runtime
// passes activations along in that layout through consecutive such ops
// (chains of sparse layers), transposing only at the chain's ends; it pads
// the samples to a kernels-friendly count, so the columns must be computed
// independently of each other.
type FeatureMajorOp interface {
	InferenceOp
	// InputSize returns the number of input values per sample.
	InputSize() int
	// ForwardFeatureMajor computes yt (OutputSize rows of n values) from
	// xt (InputSize rows of n values).
	ForwardFeatureMajor(xt, yt []float32, n int) error
}

// Inferable is a layer that runs in the inference runtime. Models made only
// of Inferable layers predict and evaluate without a gorgonia graph (see
// graph.Model.Predict); every layer of this package is Inferable.
type Inferable interface {
	Layer
	// Inference returns the layer's op for inputs of the given sizes
	// (values per sample, one per input). The op may read the layer's live
	// weights or a snapshot of them.
	Inference(inputSizes []int) (InferenceOp, error)
}

// Exportable is a layer that can be written into an exported model
// (graph.Model.Export) and loaded back by the loader registered for its
// kind (RegisterKind). Every layer of this package is Exportable.
type Exportable interface {
	Inferable
	// Export returns the layer's kind, attributes and arrays. The arrays
	// may share memory with the layer's weights: they are written out
	// before the layer changes.
	Export() (ExportedLayer, error)
}

// ExportedLayer is what an exported model stores of one layer.
type ExportedLayer struct {
	// Kind names the loader that reads the layer back (see RegisterKind).
	Kind string
	// Attrs, if not nil, must encode (encoding/json) to a JSON object: its
	// fields join the layer's node entry in the model's graph, next to
	// "name", "type" (the kind) and "inputs", which it must not use.
	Attrs any
	// Arrays are stored under "<layer name>/<array name>".
	Arrays []ExportArray
}

// ExportArray is one array of an exported layer: Float32 values, or Int64
// values when Int64 is not nil.
type ExportArray struct {
	// Name is relative to the layer: "W" is stored as "<layer>/W".
	Name string
	// Shape lists the dimensions (nil: one dimension, the number of
	// values); their product must be the number of values.
	Shape []int
	// Float32 holds the values of a float32 array.
	Float32 []float32
	// Int64 holds the values of an int64 array.
	Int64 []int64
}

// LoadFunc reads a layer of its kind back from an exported model and
// returns its inference op.
type LoadFunc func(n *ExportedNode) (InferenceOp, error)

var kinds = struct {
	sync.RWMutex
	load map[string]LoadFunc
}{load: map[string]LoadFunc{
	"dense":        loadDense,
	"sparse_dense": loadSparseDense,
	"conv2d":       loadConv2D,
	"activation":   loadActivation,
	"identity":     loadIdentity,
	"flatten":      loadIdentity,
	"add":          loadAdd,
	"concat":       loadConcat,
}}

// RegisterKind makes exported layers of the given kind loadable by
// graph.LoadInference, with load. Layers defined outside this package
// register their kind once, typically from an init function, before a
// model holding them is loaded. It fails on an empty kind, a nil load
// function and a kind already registered (the built-in kinds dense,
// sparse_dense, conv2d, activation, identity, flatten, add and concat
// included). It is safe for concurrent use.
func RegisterKind(kind string, load LoadFunc) error {
	if kind == "" {
		return errors.New("register kind: the kind must not be empty")
	}
	if load == nil {
		return errors.Errorf("register kind %q: nil load function", kind)
	}
	kinds.Lock()
	defer kinds.Unlock()
	if _, ok := kinds.load[kind]; ok {
		return errors.Errorf("register kind %q: already registered", kind)
	}
	kinds.load[kind] = load
	return nil
}

// LookupKind returns the load function registered for kind.
func LookupKind(kind string) (LoadFunc, bool) {
	kinds.RLock()
	defer kinds.RUnlock()
	load, ok := kinds.load[kind]
	return load, ok
}

// Kinds returns the registered kinds, sorted.
func Kinds() []string {
	kinds.RLock()
	defer kinds.RUnlock()
	out := make([]string, 0, len(kinds.load))
	for k := range kinds.load {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// MaxArrayValues is the largest number of values an exported array may
// hold (the sparse kernels index weights with int32).
const MaxArrayValues = math.MaxInt32

// ArrayLookup returns the stored array of an exported layer by its name
// relative to the layer: its NumPy dtype ("<f4", "<i8", ...), its shape and
// its little-endian bytes, or ok = false when there is none.
type ArrayLookup func(name string) (dtype string, shape []int, data []byte, ok bool)

// ArraySource gives the stored arrays of an exported layer by their names
// relative to the layer, reading an array's data only when asked for it
// and only up to the size asked for. graph.LoadInference gives loaders one
// over the model file, so that an array larger than a node's attributes
// announce is refused before it is read.
type ArraySource interface {
	// ArrayHeader returns the NumPy dtype and the shape of the named
	// array without reading its data; ok is false when there is none.
	ArrayHeader(name string) (dtype string, shape []int, ok bool, err error)
	// ArrayData returns the named array's little-endian bytes, which must
	// be exactly size bytes; a source reads no more than that.
	ArrayData(name string, size int) ([]byte, error)
}

// lookupSource is the ArraySource of an ArrayLookup.
type lookupSource ArrayLookup

func (l lookupSource) ArrayHeader(name string) (string, []int, bool, error) {
	dtype, shape, _, ok := l(name)
	return dtype, shape, ok, nil
}

func (l lookupSource) ArrayData(name string, size int) ([]byte, error) {
	_, _, data, ok := l(name)
	if !ok || len(data) != size {
		return nil, errors.Errorf("array %q has %d bytes, want %d", name, len(data), size)
	}
	return data, nil
}

// ExportedNode is one layer of an exported model as its loader sees it.
// Its array accessors check each array's header against the size the
// caller expects (computed from the attributes, which the loader validates
// first) before reading and decoding it, so a malformed file cannot make a
// loader read or allocate more than its attributes announce.
type ExportedNode struct {
	// Name is the layer's name.
	Name string
	// Kind is the layer's kind ("type" in the file).
	Kind string
	// Attrs is the node's JSON entry, attributes included (see
	// DecodeAttrs).
	Attrs json.RawMessage
	// InputSizes gives the values per sample of each input, in order.
	InputSizes []int

	arrays ArraySource
}

// NewExportedNode returns the node of a layer named name, of the given
// kind, with its JSON entry, its input sizes and its arrays.
func NewExportedNode(name, kind string, attrs json.RawMessage, inputSizes []int, arrays ArrayLookup) *ExportedNode {
	var src ArraySource
	if arrays != nil {
		src = lookupSource(arrays)
	}
	return NewExportedNodeFrom(name, kind, attrs, inputSizes, src)
}

// NewExportedNodeFrom is NewExportedNode with arrays read from src, each
// only when a loader asks for it.
func NewExportedNodeFrom(name, kind string, attrs json.RawMessage, inputSizes []int, src ArraySource) *ExportedNode {
	return &ExportedNode{Name: name, Kind: kind, Attrs: attrs, InputSizes: inputSizes, arrays: src}
}

// DecodeAttrs decodes the node's JSON entry into v (encoding/json; fields
// v does not have are ignored).
func (n *ExportedNode) DecodeAttrs(v any) error {
	if err := json.Unmarshal(n.Attrs, v); err != nil {
		return errors.Errorf("attributes: %v", err)
	}
	return nil
}

// OneInput returns the size of the node's only input, or an error if it
// has several.
func (n *ExportedNode) OneInput() (int, error) {
	if len(n.InputSizes) != 1 {
		return 0, errors.Errorf("takes exactly 1 input, got %d", len(n.InputSizes))
	}
	return n.InputSizes[0], nil
}

// Has reports whether the node has an array of that name.
func (n *ExportedNode) Has(name string) bool {
	if n.arrays == nil {
		return false
	}
	_, _, ok, err := n.arrays.ArrayHeader(name)
	return ok && err == nil
}

// Float32 returns the float32 array of that name, which must hold exactly
// want values (at most MaxArrayValues).
func (n *ExportedNode) Float32(name string, want int) ([]float32, error) {
	data, err := n.array(name, "<f4", 4, want)
	if err != nil {
		return nil, err
	}
	out := make([]float32, want)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return out, nil
}

// Int64 returns the int64 array of that name, which must hold exactly want
// values (at most MaxArrayValues).
func (n *ExportedNode) Int64(name string, want int) ([]int64, error) {
	data, err := n.array(name, "<i8", 8, want)
	if err != nil {
		return nil, err
	}
	out := make([]int64, want)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(data[8*i:]))
	}
	return out, nil
}

// array returns the bytes of the named array after checking its dtype and
// size against want values of size bytes each.
func (n *ExportedNode) array(name, dtype string, size, want int) ([]byte, error) {
	full := n.Name + "/" + name
	if want < 0 || want > MaxArrayValues {
		return nil, errors.Errorf("array %q: %d values asked for, want 0 to %d", full, want, MaxArrayValues)
	}
	if n.arrays == nil {
		return nil, errors.Errorf("array %q is missing", full)
	}
	dt, shape, ok, err := n.arrays.ArrayHeader(name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.Errorf("array %q is missing", full)
	}
	if dt != dtype {
		return nil, errors.Errorf("array %q has dtype %s, want %s", full, dt, dtype)
	}
	values, ok := sizeOf(shape...)
	if !ok || values != want {
		return nil, errors.Errorf("array %q has shape %v, want %d values", full, shape, want)
	}
	data, err := n.arrays.ArrayData(name, want*size)
	if err != nil {
		return nil, err
	}
	if len(data) != want*size {
		return nil, errors.Errorf("array %q has %d bytes, want %d", full, len(data), want*size)
	}
	return data, nil
}

// sizeOf returns the product of dims, or ok = false when a dimension is
// negative or the product exceeds MaxArrayValues.
func sizeOf(dims ...int) (n int, ok bool) {
	n = 1
	for _, d := range dims {
		if d < 0 || (d > 0 && n > MaxArrayValues/d) {
			return 0, false
		}
		n *= d
	}
	return n, true
}
