package repocheck

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// teachingExamples are the example programs written for users to copy out
// of the repository as the start of their own: they may import only public
// packages (their tests may use the repository's internal helpers).
var teachingExamples = []string{"examples/custom-callback", "examples/autoencoder", "examples/multilabel"}

func TestTeachingExamplesImportOnlyPublicPackages(t *testing.T) {
	root := repoRoot(t)
	for _, dir := range teachingExamples {
		path := filepath.Join(root, dir, "main.go")
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.Contains(p, "/internal/") || strings.HasSuffix(p, "/internal") {
				t.Errorf("%s/main.go imports %s, which code outside the repository cannot", dir, p)
			}
			if strings.HasPrefix(p, "github.com/g2g-ml/g2g/") {
				n++
			}
		}
		if n == 0 {
			t.Errorf("%s/main.go imports no g2g package: wrong file?", dir)
		}
	}
}
