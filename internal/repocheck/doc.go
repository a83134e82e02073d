// Package repocheck holds tests of the repository as a whole rather than of
// one package: every Go code sample of README.md is compiled by go test, and
// every Go file groups its imports as standard library, third-party and this
// module, in that order, separated by blank lines.
//
// It has no code of its own; its tests run with go test ./... like any
// other package's.
package repocheck
