package callbacks

import (
	"strings"
	"testing"
)

// TestParseNames checks that every parse function accepts exactly the
// names of its constants and names the bad value and the good ones
// otherwise; the empty name (a config's "default") is refused.
func TestParseNames(t *testing.T) {
	for _, c := range []struct {
		parse func(string) (string, error)
		good  []string
		want  string
	}{
		{func(s string) (string, error) { v, err := ParseCriterion(s); return string(v), err },
			[]string{"magnitude", "random", "gradient", "hebbian"}, `unknown criterion %q (want magnitude, random, gradient or hebbian)`},
		{func(s string) (string, error) { v, err := ParseAnneal(s); return string(v), err },
			[]string{"constant", "cosine", "linear"}, `unknown Anneal %q (want "constant", "cosine" or "linear")`},
		{func(s string) (string, error) { v, err := ParseScope(s); return string(v), err },
			[]string{"anywhere", "class"}, `unknown Scope %q (want "anywhere" or "class")`},
		{func(s string) (string, error) { v, err := ParseGrowInit(s); return string(v), err },
			[]string{"zero", "init", "sign"}, `unknown GrowInit %q (want zero, init or sign)`},
		{func(s string) (string, error) { v, err := ParseMeasure(s); return string(v), err },
			[]string{"pearson", "cosine"}, `unknown Measure %q (want "pearson" or "cosine")`},
	} {
		for _, g := range c.good {
			if v, err := c.parse(g); err != nil || v != g {
				t.Fatalf("parse(%q) = %q, %v", g, v, err)
			}
		}
		for _, bad := range []string{"", "best", strings.ToUpper(c.good[0])} {
			want := strings.Replace(c.want, "%q", `"`+bad+`"`, 1)
			if v, err := c.parse(bad); err == nil || v != "" || err.Error() != want {
				t.Fatalf("parse(%q) = %q, %v; want error %q", bad, v, err, want)
			}
		}
	}
}
