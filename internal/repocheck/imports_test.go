package repocheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// importClass is the group an import belongs in, in the order the groups
// must appear.
type importClass int

const (
	stdlib importClass = iota
	thirdParty
	module
)

func (c importClass) String() string {
	return [...]string{"standard library", "third-party", "this module"}[c]
}

// classify returns the group of the import path p in module mod: the
// standard library's paths have no dot in their first element.
func classify(p, mod string) importClass {
	switch {
	case p == mod || strings.HasPrefix(p, mod+"/"):
		return module
	case !strings.Contains(strings.SplitN(p, "/", 2)[0], "."):
		return stdlib
	}
	return thirdParty
}

// importProblems checks the import declarations of one Go source file: the
// imports must form at most one group per class — standard library,
// third-party, this module, in that order — each group a run of imports
// without blank lines, groups separated by blank lines or by separate
// import declarations. The cgo pseudo-import "C" is ignored.
func importProblems(filename string, src []byte, mod string) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, parser.ImportsOnly)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(src), "\n")
	blankBetween := func(a, b int) bool { // a blank line strictly between lines a and b (1-based)
		for l := a + 1; l < b; l++ {
			if strings.TrimSpace(lines[l-1]) == "" {
				return true
			}
		}
		return false
	}
	type group struct {
		class importClass
		line  int
	}
	var groups []group
	var problems []string
	for _, decl := range f.Decls {
		prevEnd := -1 // end line of the previous spec of this declaration
		for _, spec := range importSpecs(decl) {
			p, err := strconv.Unquote(spec.path)
			if err != nil || p == "C" {
				continue
			}
			c := classify(p, mod)
			start, end := fset.Position(spec.start).Line, fset.Position(spec.end).Line
			if prevEnd < 0 || blankBetween(prevEnd, start) {
				groups = append(groups, group{class: c, line: start})
			} else if last := groups[len(groups)-1]; last.class != c {
				problems = append(problems, fmt.Sprintf("line %d: %s import %q in the %s group that starts at line %d", start, c, p, last.class, last.line))
			}
			prevEnd = end
		}
	}
	for k := 1; k < len(groups); k++ {
		if groups[k].class <= groups[k-1].class {
			problems = append(problems, fmt.Sprintf("line %d: %s group after the %s group at line %d (want standard library, third-party, this module; one group each)",
				groups[k].line, groups[k].class, groups[k-1].class, groups[k-1].line))
		}
	}
	return problems, nil
}

// importSpec is one import of a declaration: its quoted path and extent.
type importSpec struct {
	path       string
	start, end token.Pos
}

// importSpecs returns the imports of decl, none if it is not an import
// declaration.
func importSpecs(decl ast.Decl) []importSpec {
	g, ok := decl.(*ast.GenDecl)
	if !ok || g.Tok != token.IMPORT {
		return nil
	}
	var out []importSpec
	for _, s := range g.Specs {
		is := s.(*ast.ImportSpec)
		out = append(out, importSpec{path: is.Path.Value, start: is.Pos(), end: is.End()})
	}
	return out
}

func TestImportsAreGrouped(t *testing.T) {
	root := repoRoot(t)
	mod := modulePath(t, root)
	for _, rel := range goFiles(t, root) {
		src, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		problems, err := importProblems(rel, src, mod)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		for _, p := range problems {
			t.Errorf("%s: %s", rel, p)
		}
	}
}

// The checker must accept the project's layout and name each kind of
// mistake.
func TestImportProblemsFindsMisgrouping(t *testing.T) {
	const mod = "example.com/m"
	for _, c := range []struct {
		name, imports string
		want          []string // substrings of the problems, in order; none for a good file
	}{
		{"good", "import (\n\t\"fmt\"\n\t\"os\"\n\n\t\"github.com/pkg/errors\"\n\n\t\"example.com/m/x\"\n)", nil},
		{"good, one group", "import (\n\t\"fmt\"\n\t\"os\"\n)", nil},
		{"good, cgo", "// #include <stdio.h>\nimport \"C\"\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/m/x\"\n)", nil},
		{"good, separate declarations", "import \"fmt\"\n\nimport \"example.com/m\"", nil},
		{"mixed group", "import (\n\t\"fmt\"\n\t\"example.com/m/x\"\n)", []string{`line 5: this module import "example.com/m/x" in the standard library group that starts at line 4`}},
		{"wrong order", "import (\n\t\"example.com/m/x\"\n\n\t\"github.com/pkg/errors\"\n)", []string{"line 6: third-party group after the this module group at line 4"}},
		{"split class", "import (\n\t\"fmt\"\n\n\t\"os\"\n)", []string{"line 6: standard library group after the standard library group at line 4"}},
	} {
		src := "package p\n\n" + c.imports + "\n"
		got, err := importProblems(c.name+".go", []byte(src), mod)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: problems %q, want %d matching %q", c.name, got, len(c.want), c.want)
			continue
		}
		for k := range got {
			if !strings.Contains(got[k], c.want[k]) {
				t.Errorf("%s: problem %q, want it to contain %q", c.name, got[k], c.want[k])
			}
		}
	}
}
