package meta

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestXattrs(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	e.writeFile(t, "/f", "data")
	e.mkdir(t, "/d")

	cases := []struct {
		name  string
		do    func() error
		errno error
	}{
		{"set", func() error { return e.m.SetXattr(ctx, "/f", "user.color", []byte("red"), 0) }, nil},
		{"set on a directory", func() error { return e.m.SetXattr(ctx, "/d", "user.kind", []byte("dir"), 0) }, nil},
		{"create over an existing one", func() error { return e.m.SetXattr(ctx, "/f", "user.color", []byte("blue"), XattrCreate) }, syscall.EEXIST},
		{"replace a missing one", func() error { return e.m.SetXattr(ctx, "/f", "user.size", []byte("1"), XattrReplace) }, syscall.ENODATA},
		{"replace", func() error { return e.m.SetXattr(ctx, "/f", "user.color", []byte("green"), XattrReplace) }, nil},
		{"empty value", func() error { return e.m.SetXattr(ctx, "/f", "user.empty", nil, 0) }, nil},
		{"no namespace", func() error { return e.m.SetXattr(ctx, "/f", "color", []byte("x"), 0) }, syscall.EOPNOTSUPP},
		{"ACL", func() error { return e.m.SetXattr(ctx, "/f", "system.posix_acl_access", []byte("x"), 0) }, syscall.EOPNOTSUPP},
		{"name too long", func() error { return e.m.SetXattr(ctx, "/f", "user."+strings.Repeat("n", 251), []byte("x"), 0) }, syscall.ERANGE},
		{"value too big", func() error { return e.m.SetXattr(ctx, "/f", "user.big", make([]byte, MaxXattrValue+1), 0) }, syscall.E2BIG},
		{"missing entry", func() error { return e.m.SetXattr(ctx, "/nope", "user.a", nil, 0) }, syscall.ENOENT},
		{"remove a missing one", func() error { return e.m.RemoveXattr(ctx, "/f", "user.none") }, syscall.ENODATA},
		{"remove", func() error { return e.m.RemoveXattr(ctx, "/f", "user.empty") }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantErrno(t, tc.name, tc.do(), tc.errno) })
	}
	for i := 0; i < 3; i++ {
		wantErrno(t, "filling", e.m.SetXattr(ctx, "/d", "user.fill"+string(rune('a'+i)), make([]byte, MaxXattrValue-10), 0), nil)
	}
	wantErrno(t, "past the total", e.m.SetXattr(ctx, "/d", "user.filld", make([]byte, MaxXattrValue), 0), syscall.ENOSPC)

	check := func(when string) {
		t.Helper()
		v, err := e.m.GetXattr(ctx, "/g", "user.color")
		if err != nil || !bytes.Equal(v, []byte("green")) {
			t.Fatalf("%s: get user.color = %q, %v", when, v, err)
		}
		if _, err := e.m.GetXattr(ctx, "/g", "user.empty"); err == nil {
			t.Fatalf("%s: a removed attribute is still there", when)
		}
		names, err := e.m.ListXattr(ctx, "/g")
		if err != nil || !slices.Equal(names, []string{"user.color"}) {
			t.Fatalf("%s: list = %v, %v", when, names, err)
		}
	}
	if err := e.m.Rename(ctx, "/f", "/g"); err != nil {
		t.Fatal(err)
	}
	check("after a rename")
	e.restart(t)
	check("after a restart")
}
