package repocheck

import (
	"go/build"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// codeBlock is one fenced code block of a Markdown file.
type codeBlock struct {
	line  int      // line of the opening fence (1-based)
	lines []string // the block's lines, without the fences
}

// goBlocks returns the ```go blocks of a Markdown text.
func goBlocks(md string) []codeBlock {
	var blocks []codeBlock
	var cur *codeBlock
	for n, line := range strings.Split(md, "\n") {
		fence := strings.TrimSpace(line)
		switch {
		case cur == nil && fence == "```go":
			cur = &codeBlock{line: n + 1}
		case cur != nil && fence == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.lines = append(cur.lines, line)
		}
	}
	return blocks
}

// normalize removes leading tabs and trailing white space from every line,
// so that a sample matches the same code indented inside a function.
func normalize(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimRight(strings.TrimLeft(l, "\t"), " \t\r")
	}
	return out
}

// findRun returns the index in text at which block occurs as a run of
// consecutive lines, or -1. Both are normalized.
func findRun(text, block []string) int {
	if len(block) == 0 {
		return -1
	}
	for i := 0; i+len(block) <= len(text); i++ {
		match := true
		for k := range block {
			if text[i+k] != block[k] {
				match = false
				break
			}
		}
		if match {
			return i
		}
	}
	return -1
}

// compiledGoFiles returns the repository's .go files that go test compiles
// in the default build (no build tags): build constraints and file-name
// suffixes are honoured, testdata and hidden directories skipped.
func compiledGoFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for _, rel := range goFiles(t, root) {
		dir, name := filepath.Split(filepath.Join(root, rel))
		ok, err := build.Default.MatchFile(dir, name)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if ok {
			out = append(out, rel)
		}
	}
	return out
}

// Every Go sample of README.md must compile. A sample is a fragment (it uses
// variables it does not declare), so it cannot be compiled alone; instead it
// must appear verbatim, up to leading tabs, as consecutive lines of a Go
// file that go test compiles — an Example function that declares what the
// sample assumes (graph/example_readme_test.go, for instance). Editing a
// sample without its Example, or an API change that breaks the Example,
// then fails the tests.
func TestREADMEGoSamplesAreCompiled(t *testing.T) {
	root := repoRoot(t)
	md, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlocks(string(md))
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```go block: has the fence syntax changed?")
	}
	files := map[string][]string{}
	for _, rel := range compiledGoFiles(t, root) {
		src, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		files[rel] = normalize(strings.Split(string(src), "\n"))
	}
	for n, b := range blocks {
		want := normalize(b.lines)
		found := ""
		for rel, text := range files {
			if i := findRun(text, want); i >= 0 {
				found = rel
				t.Logf("README.md block %d (line %d) is %s:%d", n+1, b.line, rel, i+1)
				break
			}
		}
		if found == "" {
			first := ""
			for _, l := range want {
				if l != "" {
					first = l
					break
				}
			}
			t.Errorf("README.md block %d (```go at line %d, starting %q) appears in no Go file compiled by go test: "+
				"copy it, verbatim, into an Example function that declares what it uses", n+1, b.line, first)
		}
	}
}

// The matcher must tell a sample that is present from one that is not.
func TestGoBlocksAndFindRun(t *testing.T) {
	md := "text\n```go\nx := f(1,\n\t2)\n\ny := x\n```\n```sh\nls\n```\n  ```go\nz := 3\n  ```\n"
	blocks := goBlocks(md)
	if len(blocks) != 2 || blocks[0].line != 2 || blocks[1].line != 11 {
		t.Fatalf("blocks %+v, want two, at lines 2 and 11", blocks)
	}
	src := normalize(strings.Split("func Example() {\n\tx := f(1,\n\t\t2)\n\n\ty := x  \n\t_ = y\n}", "\n"))
	if i := findRun(src, normalize(blocks[0].lines)); i != 1 {
		t.Errorf("first block found at %d, want 1", i)
	}
	if i := findRun(src, normalize(blocks[1].lines)); i != -1 {
		t.Errorf("second block found at %d, want -1 (absent)", i)
	}
	edited := normalize([]string{"x := f(1,", "2)", "y := x"}) // blank line missing
	if i := findRun(src, edited); i != -1 {
		t.Errorf("block without its blank line found at %d, want -1", i)
	}
}
