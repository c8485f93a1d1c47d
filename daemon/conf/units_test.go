package conf

import (
	"errors"
	"syscall"
	"testing"
	"time"
)

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr error
	}{
		{"0", 0, nil},
		{"1024", 1024, nil},
		{"64KB", 64 << 10, nil},
		{"64k", 64 << 10, nil},
		{"64kb", 64 << 10, nil},
		{"1MB", 1 << 20, nil},
		{"1m", 1 << 20, nil},
		{"2GB", 2 << 30, nil},
		{"1.5GB", 3 << 29, nil},
		{"1TB", 1 << 40, nil},
		{"1PB", 1 << 50, nil},
		{"10B", 10, nil},
		{" 64 MB ", 64 << 20, nil},
		{".5KB", 512, nil},
		{"1.KB", 1024, nil},
		{"1.3B", 1, nil}, // rounded down
		{"8191PB", 8191 << 50, nil},
		{"9223372036854775807", 1<<63 - 1, nil},
		{"8192PB", 0, syscall.ERANGE},
		{"9223372036854775808", 0, syscall.ERANGE},
		{"", 0, syscall.EINVAL},
		{"MB", 0, syscall.EINVAL},
		{"-1MB", 0, syscall.EINVAL},
		{"1XB", 0, syscall.EINVAL},
		{"1.2.3MB", 0, syscall.EINVAL},
		{"1e3", 0, syscall.EINVAL},
		{"1/2", 0, syscall.EINVAL},
		{"0x10", 0, syscall.EINVAL},
		{"1 M B", 0, syscall.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseBytes(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseBytes(%q) = %d, %v; want error %v", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseBytes(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0B"},
		{1, "1B"},
		{1536, "1536B"},
		{1024, "1KB"},
		{2 << 30, "2GB"},
		{3 << 29, "1536MB"},
		{1 << 50, "1PB"},
		{1<<63 - 1, "9223372036854775807B"},
	}
	for _, tt := range tests {
		if got := FormatBytes(tt.in); got != tt.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tt.in, got, tt.want)
		}
		if back, err := ParseBytes(FormatBytes(tt.in)); err != nil || back != tt.in {
			t.Errorf("ParseBytes(FormatBytes(%d)) = %d, %v", tt.in, back, err)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr error
	}{
		{"0", 0, nil},
		{"100", 100 * time.Millisecond, nil},
		{"10ms", 10 * time.Millisecond, nil},
		{"5s", 5 * time.Second, nil},
		{"5sec", 5 * time.Second, nil},
		{"5 seconds", 5 * time.Second, nil},
		{"1min", time.Minute, nil},
		{"2m", 2 * time.Minute, nil},
		{"2MIN", 2 * time.Minute, nil},
		{"1h", time.Hour, nil},
		{"1hour", time.Hour, nil},
		{"3hr", 3 * time.Hour, nil},
		{"1d", 24 * time.Hour, nil},
		{"1day", 24 * time.Hour, nil},
		{"2days", 48 * time.Hour, nil},
		{"1.5s", 1500 * time.Millisecond, nil},
		{"0.5ms", 500 * time.Microsecond, nil},
		{"-1", Never, nil},
		{" -1 ", Never, nil},
		{"-2", 0, syscall.EINVAL},
		{"-1s", 0, syscall.EINVAL},
		{"", 0, syscall.EINVAL},
		{"s", 0, syscall.EINVAL},
		{"5 fortnights", 0, syscall.EINVAL},
		{"1h30m", 0, syscall.EINVAL},
		{"1000000000d", 0, syscall.ERANGE},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseDuration(%q) = %v, %v; want error %v", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}
