package objstore

import (
	"context"
	"math/rand/v2"
	"time"
)

// Retry is the retry policy of a Client whose SDK has none of its own:
// a request that fails in a way another attempt may cure is tried again
// after an exponential backoff with jitter.
type Retry struct {
	// Retries is how many attempts follow the first at most.
	Retries int
	// Timeout bounds one attempt (0: none).
	Timeout time.Duration
	// Backoff is the wait before the first retry; it doubles for each
	// retry up to MaxBackoff, and a random half of it is waited.
	Backoff, MaxBackoff time.Duration
	// Retryable reports whether another attempt may succeed after err.
	Retryable func(err error) bool
	// OnRetry, when set, is told of each retry before its wait.
	OnRetry func(attempt int, wait time.Duration, err error)
}

// Do calls fn, with a context bounded by Timeout, until it succeeds,
// fails in a way Retryable does not accept, has been retried Retries
// times, or ctx ends. It returns how many attempts it made and the last
// error, or ctx's error when ctx ended during a wait.
func (r Retry) Do(ctx context.Context, fn func(ctx context.Context) error) (attempts int, err error) {
	for attempt := 0; ; attempt++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if r.Timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, r.Timeout)
		}
		ferr := fn(actx)
		cancel()
		if ferr == nil || ctx.Err() != nil || attempt >= r.Retries || (r.Retryable != nil && !r.Retryable(ferr)) {
			return attempt + 1, ferr
		}
		d := r.wait(attempt)
		if r.OnRetry != nil {
			r.OnRetry(attempt+1, d, ferr)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return attempt + 1, ctx.Err()
		case <-t.C:
		}
	}
}

// wait is the pause after the failed attempt number attempt (from 0):
// Backoff doubled per attempt, at most MaxBackoff, of which a random half
// is waited ("equal jitter").
func (r Retry) wait(attempt int) time.Duration {
	d := r.Backoff << min(attempt, 16)
	if r.MaxBackoff > 0 && (d > r.MaxBackoff || d <= 0) {
		d = r.MaxBackoff
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}
