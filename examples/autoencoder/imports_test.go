package main

import (
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// TestImportsArePublic keeps the example copyable out of the repository:
// its program imports no internal package (its tests may).
func TestImportsArePublic(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if strings.Contains(path, "/internal/") || strings.HasSuffix(path, "/internal") {
			t.Errorf("main.go imports %s, which code outside the repository cannot", path)
		}
		if strings.HasPrefix(path, "github.com/g2g-ml/g2g/") {
			n++
		}
	}
	if n == 0 {
		t.Fatal("main.go imports no g2g package: wrong file?")
	}
}
