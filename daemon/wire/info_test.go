package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/alluxio-go/alluxio/meta"
)

// filledInfo returns a FileInfo with every field set to a value of its
// own (bools: those named in on), so that a field the binary form left
// out, or two fields swapped, show in a round trip.
func filledInfo(t *testing.T, on ...string) meta.FileInfo {
	var fi meta.FileInfo
	v := reflect.ValueOf(&fi).Elem()
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch f.Kind() {
		case reflect.String:
			f.SetString(fmt.Sprintf("%s ü\x00\"%d", name, i))
		case reflect.Uint32, reflect.Uint64:
			f.SetUint(uint64(i)*1_000_003 + 1)
		case reflect.Int64:
			f.SetInt(-int64(i)*1_000_000_007 - 1)
		case reflect.Bool:
			f.SetBool(false)
			for _, o := range on {
				f.SetBool(f.Bool() || o == name)
			}
		default:
			t.Fatalf("FileInfo.%s is a %s, which the test (and maybe AppendStampedInfo) does not cover", name, f.Kind())
		}
	}
	return fi
}

// boolFields names FileInfo's bool fields but those named in except.
func boolFields(except ...string) []string {
	var out []string
	typ := reflect.TypeFor[meta.FileInfo]()
	for i := range typ.NumField() {
		if f := typ.Field(i); f.Type.Kind() == reflect.Bool && !slices.Contains(except, f.Name) {
			out = append(out, f.Name)
		}
	}
	return out
}

// TestStampedInfoBinary: every field of a status, its stamp and Missing
// come back from the binary form as they went in, each flag on its own
// and all together, with and without a stamp; extremes of the numbers
// too.
func TestStampedInfoBinary(t *testing.T) {
	var cases []StampedInfo
	for _, b := range boolFields() {
		cases = append(cases, StampedInfo{FileInfo: filledInfo(t, b), NS: &Stamp{Epoch: 1, Before: 2, After: 3}})
	}
	cases = append(cases,
		StampedInfo{FileInfo: filledInfo(t, boolFields()...), Missing: true, NS: &Stamp{Epoch: 1<<64 - 1, Before: 0, After: 1 << 63}},
		StampedInfo{FileInfo: filledInfo(t)},
		StampedInfo{Missing: true, NS: &Stamp{Epoch: 4, Before: 9, After: 9}},
		StampedInfo{FileInfo: meta.FileInfo{ID: 1<<64 - 1, UID: 1<<32 - 1, Size: 1<<63 - 1, Mtime: -1 << 63, Name: strings.Repeat("n", 255)}},
		StampedInfo{},
	)
	for i, in := range cases {
		out, err := DecodeStampedInfo(AppendStampedInfo(nil, in, true), "/f")
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !reflect.DeepEqual(out, in) {
			t.Errorf("case %d:\n got %+v %+v\nwant %+v %+v", i, out, out.NS, in, in.NS)
		}
		// For a client that does not read the second flags byte: the
		// first format, the same but for Loaded.
		plain := AppendStampedInfo(nil, in, false)
		out, err = DecodeStampedInfo(plain, "/f")
		in.Loaded = false
		if err != nil || plain[0] != infoFormat || !reflect.DeepEqual(out, in) {
			t.Errorf("case %d without the second flags byte: format %d, %v\n got %+v\nwant %+v", i, plain[0], err, out, in)
		}
	}
}

// TestStampedInfoBinaryBad: an answer cut anywhere, of another format or
// with bytes after it is an EPROTO error naming the call's subject.
func TestStampedInfoBinaryBad(t *testing.T) {
	b := AppendStampedInfo(nil, StampedInfo{FileInfo: filledInfo(t, "IsDir", "Loaded"), NS: &Stamp{Epoch: 1, Before: 2, After: 3}}, true)
	bad := map[string][]byte{
		"empty":          nil,
		"other format":   append([]byte{infoFormat + 1}, b[1:]...),
		"unknown flag":   append([]byte{infoFormatExt, b[1], 2}, b[3:]...),
		"trailing bytes": append(append([]byte{}, b...), 0),
		"huge number":    {infoFormat, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	}
	for n := 1; n < len(b); n++ {
		bad[fmt.Sprintf("cut at %d", n)] = b[:n]
	}
	for name, data := range bad {
		if _, err := DecodeStampedInfo(data, "master.GetStatus /f"); !errors.Is(err, syscall.EPROTO) || !strings.Contains(err.Error(), "master.GetStatus /f") {
			t.Errorf("%s: %v, want EPROTO naming the call", name, err)
		}
	}
}

// TestTakeBinary: a StampedInfo that took no data section keeps what its
// JSON said; one that took a binary answer becomes it; a bad one is an
// error and leaves it as it was.
func TestTakeBinary(t *testing.T) {
	r := StampedInfo{FileInfo: meta.FileInfo{ID: 5, Name: "json"}}
	if err := r.TakeBinary("x"); err != nil || r.ID != 5 {
		t.Fatalf("no data: %v, %+v", err, r)
	}
	want := StampedInfo{FileInfo: meta.FileInfo{ID: 6, Name: "bin", Path: "/bin"}, NS: &Stamp{Epoch: 1, Before: 1, After: 2}}
	r.SetData(AppendStampedInfo(nil, want, true))
	if err := r.TakeBinary("x"); err != nil || !reflect.DeepEqual(r, want) {
		t.Fatalf("binary: %v\n got %+v\nwant %+v", err, r, want)
	}
	r.SetData([]byte{infoFormat})
	if err := r.TakeBinary("x"); !errors.Is(err, syscall.EPROTO) || r.ID != 6 {
		t.Fatalf("bad data: %v, %+v", err, r)
	}
}

// FuzzDecodeStampedInfo: any bytes decode to a status or to an EPROTO
// error, never a panic; what decodes encodes back to the same bytes.
func FuzzDecodeStampedInfo(f *testing.F) {
	f.Add(AppendStampedInfo(nil, StampedInfo{}, false))
	f.Add(AppendStampedInfo(nil, StampedInfo{FileInfo: meta.FileInfo{ID: 3, Name: "a", Path: "/a", Mode: 0o644, Size: 9, Mtime: -2, Nlink: 1,
		Completed: true, Fingerprint: "fp", TTL: 5, TTLAction: "FREE"}, NS: &Stamp{Epoch: 1, Before: 2, After: 3}}, false))
	f.Add(AppendStampedInfo(nil, StampedInfo{FileInfo: meta.FileInfo{ID: 4, Name: "d", Path: "/d", IsDir: true, Loaded: true}}, true))
	f.Add([]byte{infoFormat, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeStampedInfo(b, "/d")
		if err != nil {
			if !errors.Is(err, syscall.EPROTO) {
				t.Fatalf("error %v is not EPROTO", err)
			}
			return
		}
		again, err := DecodeStampedInfo(AppendStampedInfo(nil, s, true), "/d")
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("round trip: %v\n got %+v\nwant %+v", err, again, s)
		}
	})
}

// BenchmarkStampedInfo compares decoding a status from its binary form
// with decoding its JSON, the form before.
func BenchmarkStampedInfo(b *testing.B) {
	s := StampedInfo{FileInfo: meta.FileInfo{ID: 123456, ParentID: 77, Name: "file-000123", Path: "/bench/meta/file-000123",
		Mode: 0o644, UID: 1000, GID: 1000, Mtime: 1_764_000_000_000_000_000, Atime: 1_764_000_000_000_000_000,
		Ctime: 1_764_000_000_000_000_000, Completed: true, Persisted: true, Fingerprint: "f123456-0-1764000000000000000",
		UfsFingerprint: "0:1764000000000000000", MountID: 1, UfsPath: "bench/meta/file-000123", Nlink: 1,
		CreationTime: 1_764_000_000_000_000_000}, NS: &Stamp{Epoch: 1, Before: 99, After: 100}}
	bin := AppendStampedInfo(nil, s, true)
	js, err := json.Marshal(s)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("binary", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeStampedInfo(bin, "x"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			var r StampedInfo
			if err := json.Unmarshal(js, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestStampedBinary: a Stamped's stamp and every field of each of its
// statuses but Loaded come back from the binary form as they went in; an
// answer cut anywhere, of another format or with bytes after it is an
// EPROTO error naming the call.
func TestStampedBinary(t *testing.T) {
	var infos []meta.FileInfo
	for _, b := range boolFields("Loaded") {
		infos = append(infos, filledInfo(t, b))
	}
	cases := []Stamped{
		{},
		{NS: &Stamp{Epoch: 1, Before: 2, After: 3}},
		{NS: &Stamp{Epoch: 1<<64 - 1, Before: 7, After: 8}, Infos: infos},
		{Infos: []meta.FileInfo{filledInfo(t, boolFields("Loaded")...), {}}},
	}
	for i, in := range cases {
		out, err := DecodeStamped(AppendStamped(nil, in), "x")
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !reflect.DeepEqual(out, in) {
			t.Errorf("case %d:\n got %+v\nwant %+v", i, out, in)
		}
	}
	b := AppendStamped(nil, cases[2])
	bad := map[string][]byte{
		"empty":          nil,
		"other format":   append([]byte{infoFormat}, b[1:]...),
		"bad stamp flag": append([]byte{stampedFormat, 2}, b[2:]...),
		"trailing bytes": append(append([]byte{}, b...), 0),
		"huge count":     {stampedFormat, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
	}
	for n := 1; n < len(b); n++ {
		bad[fmt.Sprintf("cut at %d", n)] = b[:n]
	}
	for name, data := range bad {
		if _, err := DecodeStamped(data, "master.Delete /d/f"); !errors.Is(err, syscall.EPROTO) || !strings.Contains(err.Error(), "master.Delete /d/f") {
			t.Errorf("%s: %v, want EPROTO naming the call", name, err)
		}
	}
	var r Stamped
	r.SetData(b)
	if err := r.TakeBinary("x"); err != nil || !reflect.DeepEqual(r, cases[2]) {
		t.Errorf("TakeBinary: %v, %+v", err, r)
	}
}

// FuzzDecodeStamped: any bytes decode to an answer or to an EPROTO error,
// never a panic; what decodes encodes back to the same answer.
func FuzzDecodeStamped(f *testing.F) {
	f.Add(AppendStamped(nil, Stamped{}))
	f.Add(AppendStamped(nil, Stamped{NS: &Stamp{Epoch: 1, Before: 2, After: 3},
		Infos: []meta.FileInfo{{ID: 3, Name: "d", Path: "/d", IsDir: true, Mode: 0o755, Nlink: 2}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeStamped(b, "/d")
		if err != nil {
			if !errors.Is(err, syscall.EPROTO) {
				t.Fatalf("error %v is not EPROTO", err)
			}
			return
		}
		again, err := DecodeStamped(AppendStamped(nil, s), "/d")
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("round trip: %v\n got %+v\nwant %+v", err, again, s)
		}
	})
}
