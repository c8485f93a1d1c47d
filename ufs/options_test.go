package ufs

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseBytesAndDuration(t *testing.T) {
	sizes := []struct {
		in   string
		want int64
		bad  bool
	}{
		{"64MB", 64 << 20, false}, {"5m", 5 << 20, false}, {"1.5GB", 3 << 29, false}, {"1024", 1024, false},
		{"2 kb", 2048, false}, {"1TB", 1 << 40, false}, {"", 0, true}, {"MB", 0, true}, {"1XB", 0, true},
		{"99999999999999999999TB", 0, true},
	}
	for _, tt := range sizes {
		got, err := ParseBytes(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d (bad %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
	durations := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"60s", time.Minute, false}, {"60sec", time.Minute, false}, {"1min", time.Minute, false},
		{"250", 250 * time.Millisecond, false}, {"2h", 2 * time.Hour, false}, {"1day", 24 * time.Hour, false},
		{" 1.5s ", 1500 * time.Millisecond, false}, {"0", 0, false},
		{"-5s", 0, true}, {"x", 0, true}, {"5 fortnights", 0, true},
	}
	for _, tt := range durations {
		got, err := ParseDuration("k", tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v (bad %v)", tt.in, got, err, tt.want, tt.bad)
		}
		if err != nil && (!errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "option k=")) {
			t.Errorf("ParseDuration(%q): error %q does not name the key or wrap EINVAL", tt.in, err)
		}
	}
}

func TestParseBool(t *testing.T) {
	tests := []struct {
		in   string
		want bool
		bad  bool
	}{
		{"true", true, false}, {"TRUE", true, false}, {" False ", false, false}, {"yes", false, true}, {"", false, true},
	}
	for _, tt := range tests {
		got, err := ParseBool("some.key", tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseBool(%q) = %v, %v; want %v (bad %v)", tt.in, got, err, tt.want, tt.bad)
		}
		if err != nil && !strings.Contains(err.Error(), "some.key") {
			t.Errorf("ParseBool(%q): error %q does not name the key", tt.in, err)
		}
	}
}

func TestOptions(t *testing.T) {
	o := NewOptions(map[string]string{
		" Alluxio.UnderFS.X.Endpoint ":                   " http://h ",
		RootOptionPrefix + "alluxio.underfs.x.timeout":   "5s",
		"alluxio.underfs.x.tyop":                         "1",
		"alluxio.underfs.other.key":                      "2",
		RootOptionPrefix + "Alluxio.UnderFS.X.Max.Retry": "3",
	})
	tests := []struct {
		keys           []string
		wantKey, wantV string
		ok             bool
	}{
		{[]string{"alluxio.underfs.x.endpoint"}, "alluxio.underfs.x.endpoint", "http://h", true},
		{[]string{"alluxio.underfs.x.missing", "alluxio.underfs.x.timeout"}, "alluxio.underfs.x.timeout", "5s", true},
		{[]string{"alluxio.underfs.x.max.retry"}, "alluxio.underfs.x.max.retry", "3", true},
		{[]string{"alluxio.underfs.x.missing"}, "", "", false},
	}
	for _, tt := range tests {
		k, v, ok := o.Lookup(tt.keys...)
		if k != tt.wantKey || v != tt.wantV || ok != tt.ok {
			t.Errorf("Lookup(%v) = %q, %q, %v; want %q, %q, %v", tt.keys, k, v, ok, tt.wantKey, tt.wantV, tt.ok)
		}
	}
	if got := o.Get("ALLUXIO.UNDERFS.X.ENDPOINT"); got != "http://h" {
		t.Errorf("Get = %q", got)
	}
	err := o.CheckNamespace("alluxio.underfs.x.", "alluxio.underfs.x.endpoint", "alluxio.underfs.x.timeout", "alluxio.underfs.x.max.retry")
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "alluxio.underfs.x.tyop") {
		t.Errorf("CheckNamespace: %v, want EINVAL naming alluxio.underfs.x.tyop", err)
	}
	if err := o.CheckNamespace("alluxio.underfs.other.", "alluxio.underfs.other.key"); err != nil {
		t.Errorf("CheckNamespace with every key known: %v", err)
	}
}
