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
//
// A model of one input and one output is written in version 1, which names
// them in input_name, input_shape, output and classes. A model of several
// is written in version 2, which adds the lists "inputs" (name and shape of
// each) and "outputs" (name and values per sample of each), in order; its
// version 1 fields describe the first input and output.
const (
	exportFormat    = "g2g-export"
	exportVersion   = 1
	exportVersionIO = 2
	exportMeta      = "g2g_export"
)

// exportGraph is the JSON graph of an exported model.
type exportGraph struct {
	Format     string            `json:"format"`
	Version    int               `json:"version"`
	InputName  string            `json:"input_name"`
	InputShape []int             `json:"input_shape"`
	Output     string            `json:"output"`
	Classes    int               `json:"classes"`
	Inputs     []exportIO        `json:"inputs,omitempty"`
	Outputs    []exportIO        `json:"outputs,omitempty"`
	Nodes      []json.RawMessage `json:"nodes"`
}

// exportIO names one input (with its shape) or output (with its values
// per sample) of a version 2 graph.
type exportIO struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape,omitempty"`
	Size  int    `json:"size,omitempty"`
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
	g := exportGraph{Format: exportFormat, Version: exportVersion, InputName: m.inputs[0].name,
		InputShape: m.inputs[0].shape, Output: m.outputs[0].name, Classes: m.classes}
	if len(m.inputs) > 1 || len(m.outputs) > 1 {
		g.Version = exportVersionIO
		for _, in := range m.inputs {
			g.Inputs = append(g.Inputs, exportIO{Name: in.name, Shape: in.shape})
		}
		for k, out := range m.outputs {
			g.Outputs = append(g.Outputs, exportIO{Name: out.name, Size: m.outWidths[k]})
		}
	}
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
	if g.Format != exportFormat || (g.Version != exportVersion && g.Version != exportVersionIO) {
		return nil, errors.Errorf("format %q version %d, want %q version %d or %d", g.Format, g.Version, exportFormat, exportVersion, exportVersionIO)
	}
	ins, outs := g.Inputs, g.Outputs
	if g.Version == exportVersion {
		if len(ins) != 0 || len(outs) != 0 {
			return nil, errors.New("version 1 graph with input or output lists")
		}
		ins, outs = []exportIO{{Name: g.InputName, Shape: g.InputShape}}, []exportIO{{Name: g.Output}}
	} else if len(ins) == 0 || len(outs) == 0 {
		return nil, errors.Errorf("version %d graph without inputs or outputs", g.Version)
	}
	sig := &signature{}
	index := map[string]int{}
	var widths, sizes []int
	for _, in := range ins {
		size := 1
		for _, d := range in.Shape {
			if d < 1 || size > layers.MaxArrayValues/d {
				return nil, errors.Errorf("input %q: bad shape %v", in.Name, in.Shape)
			}
			size *= d
		}
		if len(in.Shape) == 0 {
			return nil, errors.Errorf("bad input shape %v", in.Shape)
		}
		if _, ok := index[in.Name]; ok {
			return nil, errors.Errorf("two inputs are named %q", in.Name)
		}
		index[in.Name] = len(widths)
		widths = append(widths, size)
		sizes = append(sizes, size)
		sig.inNames = append(sig.inNames, in.Name)
		sig.inShapes = append(sig.inShapes, append([]int(nil), in.Shape...))
	}
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
		var insz []int
		for _, in := range n.Inputs {
			j, ok := index[in]
			if !ok {
				return nil, errors.Errorf("node %q reads %q, which is not defined before it", n.Name, in)
			}
			node.inputs = append(node.inputs, j)
			insz = append(insz, widths[j])
		}
		if len(node.inputs) == 0 {
			return nil, errors.Errorf("node %q has no input", n.Name)
		}
		load, ok := layers.LookupKind(n.Type)
		if !ok {
			return nil, errors.Errorf("node %q has unknown type %q (registered: %v)", n.Name, n.Type, layers.Kinds())
		}
		op, err := load(layers.NewExportedNodeFrom(n.Name, n.Type, raw, insz, nodeArrays{arrays, n.Name}))
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
	var outputs []int
	for _, out := range outs {
		o, ok := index[out.Name]
		if g.Version == exportVersion && (!ok || o != len(widths)-1 || o < len(ins)) {
			return nil, errors.Errorf("output %q is not the last node", out.Name)
		}
		if !ok || o < len(ins) {
			return nil, errors.Errorf("output %q is not a node", out.Name)
		}
		if out.Size != 0 && out.Size != widths[o] {
			return nil, errors.Errorf("output %q has %d values per sample, its node %d", out.Name, out.Size, widths[o])
		}
		outputs = append(outputs, o)
		sig.outNames = append(sig.outNames, out.Name)
		sig.outShapes = append(sig.outShapes, []int{widths[o]})
		sig.outWidths = append(sig.outWidths, widths[o])
	}
	if g.Version == exportVersion && g.Classes != widths[outputs[0]] {
		return nil, errors.Errorf("%d classes, but output %q gives %d values per sample", g.Classes, g.Output, widths[outputs[0]])
	}
	inf, err := newInference(sizes, nodes, outputs)
	if err != nil {
		return nil, err
	}
	inf.sig = sig
	return inf, nil
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
