//go:build !race

package optim_test

// raceDetector is set when the tests run under the race detector, which
// makes them about ten times slower.
const raceDetector = false
