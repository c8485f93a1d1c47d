package conf

import (
	"errors"
	"reflect"
	"syscall"
	"testing"
)

func TestParseProperties(t *testing.T) {
	type kv = [2]string
	tests := []struct {
		name string
		in   string
		want []kv
	}{
		{"equals", "a=b", []kv{{"a", "b"}}},
		{"colon", "a:b", []kv{{"a", "b"}}},
		{"blank separator", "a b", []kv{{"a", "b"}}},
		{"blanks around separator", "  a  =  b  ", []kv{{"a", "b"}}},
		{"blank then colon", "a\t: b", []kv{{"a", "b"}}},
		{"second separator is value", "a==b", []kv{{"a", "=b"}}},
		{"separator inside value", "a=b=c:d", []kv{{"a", "b=c:d"}}},
		{"empty value", "a=", []kv{{"a", ""}}},
		{"key only", "a", []kv{{"a", ""}}},
		{"hash comment", "# a=b\nc=d", []kv{{"c", "d"}}},
		{"bang comment", "  ! a=b\nc=d", []kv{{"c", "d"}}},
		{"hash inside value", "a=b # not a comment", []kv{{"a", "b # not a comment"}}},
		{"blank lines", "\n\n a=b \n\n", []kv{{"a", "b"}}},
		{"crlf", "a=b\r\nc=d\r\n", []kv{{"a", "b"}, {"c", "d"}}},
		{"cr only", "a=b\rc=d", []kv{{"a", "b"}, {"c", "d"}}},
		{"continuation", "a=b,\\\n    c,\\\n    d", []kv{{"a", "b,c,d"}}},
		{"continuation of key", "al\\\n  luxio=x", []kv{{"alluxio", "x"}}},
		{"even backslashes do not continue", "a=b\\\\\nc=d", []kv{{"a", `b\`}, {"c", "d"}}},
		{"continuation line is not a comment", "a=b\\\n# c", []kv{{"a", "b# c"}}},
		{"comment does not continue", "# a\\\nb=c", []kv{{"b", "c"}}},
		{"continuation at end of file", "a=b\\", []kv{{"a", "b"}}},
		{"escaped separator in key", `a\=b\:c\ d=e`, []kv{{"a=b:c d", "e"}}},
		{"escapes in value", `a=x\ty\nz\\w\q`, []kv{{"a", "x\ty\nz\\wq"}}},
		{"unicode escape", `a=\u0041\u00e9`, []kv{{"a", "Aé"}}},
		{"surrogate pair", `a=\uD83D\uDE00`, []kv{{"a", "😀"}}},
		{"lone surrogate", `a=\uD83Dx`, []kv{{"a", "\uFFFDx"}}},
		{"utf-8 as is", "a=日本", []kv{{"a", "日本"}}},
		{"later wins in order", "a=1\na=2", []kv{{"a", "1"}, {"a", "2"}}},
		{"windows path needs escapes", `p=C:\\tmp`, []kv{{"p", `C:\tmp`}}},
		{"url value", "alluxio.master.mount.table.root.ufs=s3://bucket/dir", []kv{{"alluxio.master.mount.table.root.ufs", "s3://bucket/dir"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, err := parseProperties(tt.in)
			if err != nil {
				t.Fatalf("parseProperties(%q): %v", tt.in, err)
			}
			var got []kv
			for _, e := range entries {
				got = append(got, kv{e.key, e.value})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("parseProperties(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParsePropertiesLines(t *testing.T) {
	entries, err := parseProperties("# c\na=b\\\n c\n\nd=e\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].line != 2 || entries[1].line != 5 {
		t.Fatalf("entries = %+v, want lines 2 and 5", entries)
	}
}

func TestParsePropertiesMalformedUnicode(t *testing.T) {
	for _, in := range []string{`a=\u12`, `a=\u12G4`, `\uZZZZ=b`} {
		if _, err := parseProperties(in); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("parseProperties(%q) error = %v, want EINVAL", in, err)
		}
	}
}

func TestFormatPropertiesRoundTrip(t *testing.T) {
	entries := []propEntry{
		{key: "plain", value: "v"},
		{key: " a=b:c#!\\", value: "x\\y\nz\r\tw"},
		{key: "#start", value: "=leading separator char"},
		{key: "", value: "empty key"},
		{key: "日本", value: "é"},
	}
	got, err := parseProperties(formatProperties(entries))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(entries) {
		t.Fatalf("got %d entries, want %d", len(got), len(entries))
	}
	for i := range entries {
		if got[i].key != entries[i].key || got[i].value != entries[i].value {
			t.Errorf("entry %d = %q=%q, want %q=%q", i, got[i].key, got[i].value, entries[i].key, entries[i].value)
		}
	}
}
