// Package graph composes layers into models and trains them.
//
// A model is a graph of layer applications, written the way Keras's
// functional API is written: start from an Input, Apply layers to references,
// and close it with NewModel. Sequential is the shortcut for a chain. Branches
// and skip connections are just layers applied to several references (see
// layers.Add and layers.Concat); a layer applied twice shares its weights.
//
// A Model compiles one gorgonia graph per batch size and purpose: training
// graphs (with gradients) and forward-only evaluation graphs, all bound to the
// same weight and mask tensors. Evaluation therefore never touches gradients,
// works at any batch size, and includes the last partial batch; Fit trains on
// the last partial batch too.
//
// Fit runs a training loop with Keras-style callbacks (see Callback and
// Context); package callbacks provides ready-made ones.
//
// # Losses and metrics
//
// FitConfig.Loss is the loss trained: SoftmaxCrossEntropy (the default,
// against integer labels or soft targets, with optional label smoothing
// and class weights), SigmoidCrossEntropy (multi-label, from logits),
// MeanSquaredError, MeanAbsoluteError and Huber are fused ops with their
// own backward; NewLoss makes a loss of any function of gorgonia nodes
// that returns a scalar, trained through autodiff. FitConfig.Metrics are
// measured on every batch and on the validation data: Accuracy,
// TopKAccuracy, MSE, MAE, BinaryAccuracy, F1, MacroF1, or NewMetric for a
// function of your own. Each lands in Context.Logs under its name ("acc",
// "mae", ...) and, for the validation data, under "val_" + its name, so
// that callbacks can monitor it; Context.Maximize says which way each
// improves. Model.EvaluateWith computes them on any data set.
//
// # Several inputs and outputs
//
// NewMultiModel takes lists of inputs and outputs, as Keras's
// Model(inputs=[...], outputs=[...]) does. Each output has its loss,
// loss weight and metrics (FitConfig.Outputs, by output name); the total
// loss is the weighted sum, and logs name each output's entries
// "<output>/<name>". Predict and Evaluate handle one input and one output;
// PredictMulti, PredictDataset and EvaluateWith handle any number, on the
// inference runtime or the evaluation graph; checkpoints and exported
// models (version 2 of the format) hold them.
//
// # How data maps to a model
//
// A datasets.Dataset holds the inputs X, the set's own targets (integer
// labels Y, float Targets of any shape, or the inputs themselves with
// InputTargets) and further named arrays in Fields. Inputs and outputs
// read them by name: model input k reads the field named like it, or X —
// which feeds one input only, the first without a field; output o's
// targets are the field named like it (the output's layer name), or else
// the set's own targets, for the first output without a field. Sizes must
// match per sample (a 28×28 image may feed a 784-wide output); a mismatch
// is an error naming the input or output and both shapes. Labels are
// one-hot encoded for the loss; FitConfig.Augment edits X, and InputTargets
// targets are the augmented inputs.
package graph
