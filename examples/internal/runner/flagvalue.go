package runner

import "strings"

// FlagValue returns the value of flag name in args (def when there is
// none), the last one given, as the flag package would set it; arguments
// after "--" are not flags. Commands use it to read, before parsing, the
// flags that decide which other flags exist or what their defaults are
// (-preset, -dataset, -checkpoint).
func FlagValue(args []string, name, def string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		f := strings.TrimLeft(a, "-")
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			def = v
		} else if f == name && i+1 < len(args) {
			def = args[i+1]
			i++
		}
	}
	return def
}
