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
package graph
