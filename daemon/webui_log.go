package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
)

// levelHandler decides which records a logger emits by a slog.LevelVar,
// so that the web UI can change the level of a running daemon. The
// handler it wraps writes what it is given: slog asks Enabled before
// Handle, and the standard handlers do not check the level again.
type levelHandler struct {
	inner slog.Handler
	level *slog.LevelVar
}

// withLevelVar wraps log so that its level is set by the returned
// LevelVar, which starts at the lowest level log already emits.
func withLevelVar(log *slog.Logger) (*slog.Logger, *slog.LevelVar) {
	h := log.Handler()
	if lh, ok := h.(*levelHandler); ok {
		return log, lh.level // already adjustable: share its level
	}
	lv := new(slog.LevelVar)
	lv.Set(lowestEnabled(h))
	return slog.New(&levelHandler{inner: h, level: lv}), lv
}

// lowestEnabled probes the handler for the lowest standard level it
// emits.
func lowestEnabled(h slog.Handler) slog.Level {
	for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
		if h.Enabled(context.Background(), l) {
			return l
		}
	}
	return slog.LevelError + 4
}

func (h *levelHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *levelHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.inner.Handle(ctx, r)
}

func (h *levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &levelHandler{inner: h.inner.WithAttrs(attrs), level: h.level}
}

func (h *levelHandler) WithGroup(name string) slog.Handler {
	return &levelHandler{inner: h.inner.WithGroup(name), level: h.level}
}

// logLevels are the levels the UI offers, by Alluxio's names.
var logLevels = []string{"DEBUG", "INFO", "WARN", "ERROR"}

// parseLogLevel reads a level by Alluxio's or slog's name (TRACE is
// DEBUG, FATAL is ERROR, as alluxio.log.level takes them).
func parseLogLevel(s string) (slog.Level, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "TRACE", "DEBUG":
		return slog.LevelDebug, nil
	case "INFO":
		return slog.LevelInfo, nil
	case "WARN", "WARNING":
		return slog.LevelWarn, nil
	case "ERROR", "FATAL":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log level %q: want one of %s: %w", s, strings.Join(logLevels, ", "), syscall.EINVAL)
}

// levelName is the Alluxio name of a level.
func levelName(l slog.Level) string {
	switch {
	case l <= slog.LevelDebug:
		return "DEBUG"
	case l <= slog.LevelInfo:
		return "INFO"
	case l <= slog.LevelWarn:
		return "WARN"
	}
	return "ERROR"
}
