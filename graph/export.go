package graph

import (
	"bytes"
	"encoding/binary"
	"encoding/json"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/internal/npz"
	"github.com/g2g-ml/g2g/layers"
)

// Exported models are .npz archives (numpy.load opens them) holding, per
// layer in topological order, its arrays under "<layer>/<array>" — for the
// layers of package layers: dense weights as <name>/W and <name>/b; sparse
// (G2G) weights in compressed sparse row form by input unit,
// <name>/indptr (int64, length in+1), <name>/indices (output units, int64)
// and <name>/values (float32), only the active edges — and an entry
// "g2g_export" with the JSON graph: the input shape and, for every node, its
// name, its type (the layer's kind, see layers.ExportedLayer), its inputs
// and its attributes. Each kind is read back by the loader registered for it
// (layers.RegisterKind).
const (
	exportFormat  = "g2g-export"
	exportVersion = 1
	exportMeta    = "g2g_export"
)

// exportGraph is the JSON graph of an exported model.
type exportGraph struct {
	Format     string            `json:"format"`
	Version    int               `json:"version"`
	InputName  string            `json:"input_name"`
	InputShape []int             `json:"input_shape"`
	Output     string            `json:"output"`
	Classes    int               `json:"classes"`
	Nodes      []json.RawMessage `json:"nodes"`
}

// exportNode holds the fields every node entry has; the attributes of its
// kind follow them in the same JSON object.
type exportNode struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Inputs []string `json:"inputs"`
}

// Export writes a compact inference model to path, atomically: only the
// active weights of sparse layers are stored. LoadInference reads it back
// without gorgonia; numpy.load opens it too. Every layer must implement
// layers.Exportable with a registered kind, and be applied once (an
// exported node is named after its layer).
func (m *Model) Export(path string) error {
	g := exportGraph{Format: exportFormat, Version: exportVersion, InputName: m.input.name,
		InputShape: m.input.shape, Output: m.output.name, Classes: m.classes}
	var arrays []npz.Array
	done := map[layers.Layer]bool{}
	for _, r := range m.order {
		if r.layer == nil {
			continue
		}
		l := r.layer
		if done[l] {
			return errors.Errorf("export: layer %q is applied more than once; an exported model cannot share a layer's weights", l.Name())
		}
		done[l] = true
		e, ok := l.(layers.Exportable)
		if !ok {
			return errors.Errorf("export: layer %q of type %T cannot be exported: it does not implement layers.Exportable", l.Name(), l)
		}
		el, err := e.Export()
		if err != nil {
			return errors.Wrapf(err, "export: layer %q", l.Name())
		}
		if _, ok := layers.LookupKind(el.Kind); !ok {
			return errors.Errorf("export: layer %q of type %T has kind %q, which no loader is registered for (layers.RegisterKind)", l.Name(), l, el.Kind)
		}
		var inputs []string
		for _, in := range r.inputs {
			inputs = append(inputs, in.name)
		}
		node, err := nodeJSON(exportNode{Name: l.Name(), Type: el.Kind, Inputs: inputs}, el.Attrs)
		if err != nil {
			return errors.Wrapf(err, "export: layer %q", l.Name())
		}
		g.Nodes = append(g.Nodes, node)
		for _, a := range el.Arrays {
			arr, err := npzArray(l.Name()+"/"+a.Name, a)
			if err != nil {
				return errors.Wrapf(err, "export: layer %q", l.Name())
			}
			arrays = append(arrays, arr)
		}
	}
	js, err := json.Marshal(g)
	if err != nil {
		return errors.Wrap(err, "export")
	}
	arrays = append(arrays, npz.Uint8(exportMeta, js, len(js)))
	return errors.Wrap(npz.Write(path, arrays), "export")
}

// nodeJSON returns the node entry: n's fields, then those of attrs, which
// must encode to a JSON object (or null) without n's keys.
func nodeJSON(n exportNode, attrs any) (json.RawMessage, error) {
	head, err := json.Marshal(n)
	if err != nil {
		return nil, err
	}
	if attrs == nil {
		return head, nil
	}
	raw, err := json.Marshal(attrs)
	if err != nil {
		return nil, errors.Wrap(err, "attributes")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, errors.Errorf("attributes must encode to a JSON object, got %.40s", raw)
	}
	for _, k := range []string{"name", "type", "inputs"} {
		if _, ok := fields[k]; ok {
			return nil, errors.Errorf("attribute %q is reserved", k)
		}
	}
	raw = bytes.TrimSpace(raw)
	if len(fields) == 0 {
		return head, nil
	}
	// head is {...} and raw {...}: join them into one object.
	out := append(head[:len(head)-1:len(head)-1], ',')
	return append(out, raw[1:]...), nil
}

// npzArray returns array a of a layer, stored under name.
func npzArray(name string, a layers.ExportArray) (npz.Array, error) {
	n := len(a.Float32)
	if a.Int64 != nil {
		if a.Float32 != nil {
			return npz.Array{}, errors.Errorf("array %q has both float32 and int64 values", name)
		}
		n = len(a.Int64)
	}
	shape := a.Shape
	if shape == nil {
		shape = []int{n}
	}
	size := 1
	for _, d := range shape {
		size *= d
	}
	if size != n {
		return npz.Array{}, errors.Errorf("array %q has shape %v but %d values", name, shape, n)
	}
	if a.Int64 == nil {
		return npz.Float32(name, a.Float32, shape...), nil
	}
	b := make([]byte, 8*n)
	for i, x := range a.Int64 {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return npz.Array{Name: name, Dtype: "<i8", Shape: shape, Data: b}, nil
}

// maxGraphBytes bounds the JSON graph of an exported model (a few hundred
// bytes per node).
const maxGraphBytes = 16 << 20

// LoadInference reads a model written by Model.Export: every node through
// the loader registered for its type (layers.RegisterKind), which checks
// its arrays against its attributes. The graph is read first; a node's
// arrays are read only when its loader asks for them, and only after their
// headers show the size its attributes announce, so a malformed file
// cannot make the loader read or allocate much more than the model it
// describes.
func LoadInference(path string) (*Inference, error) {
	r, err := npz.Open(path)
	if err != nil {
		return nil, errors.Wrap(err, "exported model")
	}
	defer r.Close()
	return loadInference(r)
}

// loadInference is LoadInference on an open archive.
func loadInference(r *npz.Reader) (*Inference, error) {
	path := r.Path()
	if !r.Has(exportMeta) {
		return nil, errors.Errorf("exported model %s: no %s entry: not a g2g exported model", path, exportMeta)
	}
	raw, err := r.Read(exportMeta, maxGraphBytes)
	if err != nil {
		return nil, errors.Wrap(err, "exported model")
	}
	var g exportGraph
	if err := json.Unmarshal(raw.Data, &g); err != nil {
		return nil, errors.Errorf("exported model %s: graph is not valid JSON: %v", path, err)
	}
	inf, err := loadGraph(g, r)
	if err != nil {
		return nil, errors.Wrapf(err, "exported model %s", path)
	}
	return inf, nil
}

// loadGraph checks an exported graph and loads its nodes.
func loadGraph(g exportGraph, arrays *npz.Reader) (*Inference, error) {
	if g.Format != exportFormat || g.Version != exportVersion {
		return nil, errors.Errorf("format %q version %d, want %q version %d", g.Format, g.Version, exportFormat, exportVersion)
	}
	size := 1
	for _, d := range g.InputShape {
		if d < 1 || size > layers.MaxArrayValues/d {
			return nil, errors.Errorf("bad input shape %v", g.InputShape)
		}
		size *= d
	}
	if len(g.InputShape) == 0 {
		return nil, errors.Errorf("bad input shape %v", g.InputShape)
	}
	index := map[string]int{g.InputName: 0}
	widths := []int{size}
	var nodes []infNode
	for k, raw := range g.Nodes {
		var n exportNode
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, errors.Errorf("node %d is not a JSON object with name, type and inputs: %v", k, err)
		}
		if _, ok := index[n.Name]; ok || n.Name == "" {
			return nil, errors.Errorf("node %d: name %q is empty or not unique", k, n.Name)
		}
		node := infNode{name: n.Name}
		var sizes []int
		for _, in := range n.Inputs {
			j, ok := index[in]
			if !ok {
				return nil, errors.Errorf("node %q reads %q, which is not defined before it", n.Name, in)
			}
			node.inputs = append(node.inputs, j)
			sizes = append(sizes, widths[j])
		}
		if len(node.inputs) == 0 {
			return nil, errors.Errorf("node %q has no input", n.Name)
		}
		load, ok := layers.LookupKind(n.Type)
		if !ok {
			return nil, errors.Errorf("node %q has unknown type %q (registered: %v)", n.Name, n.Type, layers.Kinds())
		}
		op, err := load(layers.NewExportedNodeFrom(n.Name, n.Type, raw, sizes, nodeArrays{arrays, n.Name}))
		if err != nil {
			return nil, errors.Errorf("node %q: %v", n.Name, err)
		}
		if op == nil {
			return nil, errors.Errorf("node %q: the loader of type %q returned no op", n.Name, n.Type)
		}
		node.op = op
		index[n.Name] = len(widths)
		widths = append(widths, op.OutputSize())
		nodes = append(nodes, node)
	}
	out, ok := index[g.Output]
	if !ok || out != len(widths)-1 || out == 0 {
		return nil, errors.Errorf("output %q is not the last node", g.Output)
	}
	if g.Classes != widths[out] {
		return nil, errors.Errorf("%d classes, but output %q gives %d values per sample", g.Classes, g.Output, widths[out])
	}
	return newInference(size, nodes)
}

// nodeArrays is the layers.ArraySource of node's arrays in an exported
// model's archive.
type nodeArrays struct {
	r    *npz.Reader
	node string
}

func (s nodeArrays) ArrayHeader(name string) (string, []int, bool, error) {
	full := s.node + "/" + name
	if !s.r.Has(full) {
		return "", nil, false, nil
	}
	h, err := s.r.Header(full)
	if err != nil {
		return "", nil, false, err
	}
	return h.Dtype, h.Shape, true, nil
}

func (s nodeArrays) ArrayData(name string, size int) ([]byte, error) {
	a, err := s.r.Read(s.node+"/"+name, int64(size))
	if err != nil {
		return nil, err
	}
	if len(a.Data) != size {
		return nil, errors.Errorf("array %q has %d bytes, want %d", a.Name, len(a.Data), size)
	}
	return a.Data, nil
}
