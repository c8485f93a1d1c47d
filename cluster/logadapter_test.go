package cluster

import (
	"log/slog"
	"testing"
)

func TestMemberlistLogLevels(t *testing.T) {
	tests := []struct {
		line  string
		level slog.Level
		msg   string
	}{
		{"[DEBUG] memberlist: Stream connection from=127.0.0.1:5\n", slog.LevelDebug, "Stream connection from=127.0.0.1:5"},
		{"[INFO] memberlist: Marking w-1 as failed, suspect timeout reached (0 peer confirmations)\n", slog.LevelDebug, "Marking w-1 as failed, suspect timeout reached (0 peer confirmations)"},
		{"[WARN] memberlist: Was able to connect to w-2 over TCP but UDP probes failed\n", slog.LevelWarn, "Was able to connect to w-2 over TCP but UDP probes failed"},
		{"[ERR] memberlist: Failed to send ping: write: broken pipe\n", slog.LevelError, "Failed to send ping: write: broken pipe"},
		{"[ERR] Failed to shutdown transport: boom", slog.LevelError, "Failed to shutdown transport: boom"},
		{"something without a level\n", slog.LevelInfo, "something without a level"},
	}
	for _, tc := range tests {
		t.Run(tc.msg, func(t *testing.T) {
			logs := &logStore{}
			l := newMemberlistLogger(logs.logger())
			l.Print(tc.line)
			got := logs.find(tc.level, "")
			if len(got) != 1 {
				t.Fatalf("logged %d records at %v, want 1", len(got), tc.level)
			}
			if got[0].msg != tc.msg || got[0].attrs["lib"] != "memberlist" {
				t.Fatalf("logged %q %v, want %q from memberlist", got[0].msg, got[0].attrs, tc.msg)
			}
		})
	}
}
