package conf

import (
	"strings"
	"testing"
)

// FuzzParseProperties checks that any input parses without panic and that
// what parses survives a format/parse round trip unchanged.
func FuzzParseProperties(f *testing.F) {
	for _, seed := range []string{
		"a=b\n",
		"# c\n! d\n a : b \n",
		"k v\\\n  w\n",
		`\u0041\=\:=\uD83D\uDE00\t\\`,
		"a=b\\\\\r\nc\\\rd",
		`a=\u12`,
		"=\n:\n\\",
		"alluxio.user.file.readtype.default=CACHE\nalluxio.master.mount.table.root.ufs=${alluxio.work.dir}/x",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		entries, err := parseProperties(in)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.value != strings.TrimSpace(e.value) {
				t.Fatalf("value %q not trimmed", e.value)
			}
		}
		text := formatProperties(entries)
		again, err := parseProperties(text)
		if err != nil {
			t.Fatalf("reparse of %q: %v", text, err)
		}
		if len(again) != len(entries) {
			t.Fatalf("round trip of %q: %d entries, then %d (%q)", in, len(entries), len(again), text)
		}
		for i := range entries {
			if again[i].key != entries[i].key || again[i].value != entries[i].value {
				t.Fatalf("round trip entry %d: %q=%q became %q=%q", i, entries[i].key, entries[i].value, again[i].key, again[i].value)
			}
		}
	})
}

// FuzzParseBytes checks that ParseBytes never panics, never returns a
// negative size, and that FormatBytes output parses back exactly.
func FuzzParseBytes(f *testing.F) {
	for _, seed := range []string{"0", "1024", "64KB", "1.5gb", " 2 T ", "8191PB", "8192PB", ".", "1e9", "-1", "99999999999999999999999"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, err := ParseBytes(in)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseBytes(%q) = %d", in, n)
		}
		back, err := ParseBytes(FormatBytes(n))
		if err != nil || back != n {
			t.Fatalf("ParseBytes(FormatBytes(%d)) = %d, %v", n, back, err)
		}
	})
}

// FuzzParseDuration checks that ParseDuration never panics and only
// returns a negative duration for "-1".
func FuzzParseDuration(f *testing.F) {
	for _, seed := range []string{"0", "-1", "10ms", "1.5s", "2min", "1 day", "106751d", "106752d"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d, err := ParseDuration(in)
		if err == nil && d < 0 && d != Never {
			t.Fatalf("ParseDuration(%q) = %v", in, d)
		}
	})
}

// FuzzParseEnvFile checks that any alluxio-env.sh is read without panic
// and that reported lines exist.
func FuzzParseEnvFile(f *testing.F) {
	for _, seed := range []string{
		"export A=b\n",
		`A="x $B ${C:-d} \" '` + "\nB='y'\n",
		"A=$(cmd)\nif x; then\nfi\n",
		"A=\"unterminated\nB=1",
		"A+=${alluxio.x}\\\n;B=1 # c",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		_, problems := parseEnvFile(in, envOf(map[string]string{"B": "1"}))
		lines := strings.Count(in, "\n") + 1
		for _, p := range problems {
			if p.line < 1 || p.line > lines {
				t.Fatalf("problem on line %d of a %d-line input", p.line, lines)
			}
		}
	})
}
