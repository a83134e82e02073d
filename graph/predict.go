package graph

import (
	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/datasets"
)

// Predict returns the outputs (n × Classes, row-major: the logits of a
// classifier) for the samples in x, which holds n·InputSize values,
// computed in batches of batchSize. The model must have one input and one
// output; PredictMulti handles several.
//
// A model whose layers all implement layers.Inferable (every layer of
// package layers does) runs on the inference runtime over its live weights:
// sparse layers chain feature-major on the sparse kernels, without graph
// overhead. A model with another layer runs through its gorgonia
// evaluation graph instead; PredictPath tells which.
func (m *Model) Predict(x []float32, batchSize int) ([]float32, error) {
	if len(m.inputs) != 1 || len(m.outputs) != 1 {
		return nil, errors.Errorf("predict: the model has %d inputs and %d outputs; use PredictMulti", len(m.inputs), len(m.outputs))
	}
	size := m.InputSize()
	if batchSize < 1 {
		return nil, errors.Errorf("predict: batch size must be at least 1, got %d", batchSize)
	}
	if len(x)%size != 0 {
		return nil, errors.Errorf("predict: %d input values is not a whole number of samples of %d", len(x), size)
	}
	if m.notInferable() != nil {
		return m.predictGraph(x, batchSize)
	}
	inf, err := m.inference()
	if err != nil {
		return nil, errors.Wrap(err, "predict")
	}
	return inf.Predict(x, batchSize)
}

// PredictMulti returns every output (in the model's output order, each
// n × values per sample, row-major) for n samples given as one slice per
// input (in the model's input order, each n·size values), computed in
// batches of batchSize, on the engine Predict uses.
func (m *Model) PredictMulti(inputs [][]float32, batchSize int) ([][]float32, error) {
	n, err := checkInputs(inputs, m.signature(), batchSize)
	if err != nil {
		return nil, err
	}
	return m.predictMulti(inputs, n, batchSize)
}

// PredictDataset returns every output for the samples of d, whose arrays
// feed the model's inputs by name as in Fit (a field named like an input,
// or X).
func (m *Model) PredictDataset(d *datasets.Dataset, batchSize int) ([][]float32, error) {
	if d == nil {
		return nil, errors.New("predict: nil dataset")
	}
	b, err := m.signature().bind(d, false)
	if err != nil {
		return nil, errors.Wrap(err, "predict")
	}
	if err := d.Validate(); err != nil {
		return nil, errors.Wrap(err, "predict")
	}
	return m.PredictMulti(b.whole(d).inputs, batchSize)
}

// checkInputs checks one slice per input of whole samples, all with the
// same count, and returns the count.
func checkInputs(inputs [][]float32, sig *signature, batchSize int) (int, error) {
	if batchSize < 1 {
		return 0, errors.Errorf("predict: batch size must be at least 1, got %d", batchSize)
	}
	if len(inputs) != len(sig.inNames) {
		return 0, errors.Errorf("predict: %d input slices for a model of %d inputs (%v)", len(inputs), len(sig.inNames), sig.inNames)
	}
	n := -1
	for k, x := range inputs {
		size := shapeSize(sig.inShapes[k])
		if len(x)%size != 0 {
			return 0, errors.Errorf("predict: input %q: %d values is not a whole number of samples of %d", sig.inNames[k], len(x), size)
		}
		if n >= 0 && len(x)/size != n {
			return 0, errors.Errorf("predict: input %q has %d samples, input %q %d", sig.inNames[k], len(x)/size, sig.inNames[0], n)
		}
		n = len(x) / size
	}
	return n, nil
}

// predictMulti computes every output of n samples.
func (m *Model) predictMulti(inputs [][]float32, n, batchSize int) ([][]float32, error) {
	if m.notInferable() != nil {
		return m.predictGraphMulti(inputs, n, batchSize)
	}
	inf, err := m.inference()
	if err != nil {
		return nil, errors.Wrap(err, "predict")
	}
	return inf.predictMulti(inputs, n, batchSize)
}

// predictGraph is Predict through the model's evaluation graph.
func (m *Model) predictGraph(x []float32, batchSize int) ([]float32, error) {
	outs, err := m.predictGraphMulti([][]float32{x}, len(x)/m.InputSize(), batchSize)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// predictGraphMulti is predictMulti through the model's evaluation graphs.
func (m *Model) predictGraphMulti(inputs [][]float32, n, batchSize int) ([][]float32, error) {
	outs := make([][]float32, len(m.outputs))
	for k := range outs {
		outs[k] = make([]float32, 0, n*m.outWidths[k])
	}
	sizes := make([]int, len(m.inputs))
	for k, in := range m.inputs {
		sizes[k] = shapeSize(in.shape)
	}
	batch := make([][]float32, len(inputs))
	for start := 0; start < n; start += batchSize {
		end := min(start+batchSize, n)
		p, err := m.program(end-start, false)
		if err != nil {
			return nil, errors.Wrap(err, "predict")
		}
		for k, x := range inputs {
			batch[k] = x[start*sizes[k] : end*sizes[k]]
		}
		if err := p.loadInputs(batch); err != nil {
			return nil, errors.Wrap(err, "predict")
		}
		if err := p.run(0); err != nil {
			p.reset()
			return nil, errors.Wrap(err, "predict")
		}
		for k := range outs {
			y, err := p.outputData(k)
			if err != nil {
				p.reset()
				return nil, err
			}
			outs[k] = append(outs[k], y...)
		}
		p.reset()
	}
	return outs, nil
}
