package objstore

import (
	"context"
	"errors"
	"testing"
	"time"
)

var (
	errServer = errors.New("HTTP 503")
	errClient = errors.New("HTTP 400")
)

// TestRetry checks how many attempts Retry makes and what it returns.
func TestRetry(t *testing.T) {
	retryable := func(err error) bool { return errors.Is(err, errServer) }
	tests := []struct {
		name     string
		retries  int
		fails    []error // what the attempts return, in order; nil after
		attempts int
		want     error
	}{
		{"success", 3, nil, 1, nil},
		{"after failures", 3, []error{errServer, errServer}, 3, nil},
		{"gives up", 2, []error{errServer, errServer, errServer, errServer}, 3, errServer},
		{"not retryable", 5, []error{errServer, errClient, errServer}, 2, errClient},
		{"no retries", 0, []error{errServer}, 1, errServer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var waits []time.Duration
			r := Retry{Retries: tt.retries, Backoff: time.Millisecond, MaxBackoff: 3 * time.Millisecond, Retryable: retryable,
				OnRetry: func(attempt int, d time.Duration, err error) { waits = append(waits, d) }}
			calls := 0
			n, err := r.Do(t.Context(), func(context.Context) error {
				calls++
				if calls <= len(tt.fails) {
					return tt.fails[calls-1]
				}
				return nil
			})
			if n != tt.attempts || calls != tt.attempts || !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("Do = %d, %v after %d calls; want %d, %v", n, err, calls, tt.attempts, tt.want)
			}
			if len(waits) != tt.attempts-1 {
				t.Errorf("%d retries reported, want %d", len(waits), tt.attempts-1)
			}
			for i, d := range waits {
				hi := min(time.Millisecond<<i, 3*time.Millisecond)
				if d < hi/2 || d > hi {
					t.Errorf("wait %d = %v, want from %v to %v", i, d, hi/2, hi)
				}
			}
		})
	}
}

// TestRetryTimeout: each attempt has its own deadline, and the caller's
// end stops the waits at once.
func TestRetryTimeout(t *testing.T) {
	r := Retry{Retries: 2, Timeout: 20 * time.Millisecond, Backoff: time.Millisecond}
	n, err := r.Do(t.Context(), func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if n != 3 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do = %d, %v; want 3 attempts ending in DeadlineExceeded", n, err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	r = Retry{Retries: 5, Backoff: time.Hour, MaxBackoff: time.Hour}
	start := time.Now()
	n, err = r.Do(ctx, func(context.Context) error { cancel(); return errServer })
	if n != 1 || !errors.Is(err, errServer) {
		t.Errorf("Do with a canceled context = %d, %v", n, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Do waited %v after its context ended", d)
	}

	ctx, cancel = context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	n, err = r.Do(ctx, func(context.Context) error { return errServer })
	if n != 1 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do with a context ending in its wait = %d, %v; want 1, DeadlineExceeded", n, err)
	}
}
