package conf

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var byteUnits = map[string]int64{
	"":   1,
	"b":  1,
	"k":  1 << 10,
	"kb": 1 << 10,
	"m":  1 << 20,
	"mb": 1 << 20,
	"g":  1 << 30,
	"gb": 1 << 30,
	"t":  1 << 40,
	"tb": 1 << 40,
	"p":  1 << 50,
	"pb": 1 << 50,
}

// ParseBytes parses a size in Alluxio's syntax: a non-negative number,
// possibly with a fraction, followed by an optional unit B, KB, MB, GB, TB
// or PB (or just K, M, G, T, P), any case, in multiples of 1024. A plain
// number is bytes; a fractional result is rounded down. "1.5GB" is
// 1610612736. Errors wrap syscall.EINVAL, or syscall.ERANGE on overflow.
func ParseBytes(s string) (int64, error) {
	num, unit, err := splitNumber(s)
	if err != nil {
		return 0, fmt.Errorf("conf: invalid size %q: %w", s, err)
	}
	mult, ok := byteUnits[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("conf: invalid size %q: unknown unit %q: %w", s, unit, syscall.EINVAL)
	}
	n, ok := scale(num, mult)
	if !ok {
		return 0, fmt.Errorf("conf: size %q is too large: %w", s, syscall.ERANGE)
	}
	return n, nil
}

// FormatBytes renders n in the largest unit that divides it exactly, so that
// ParseBytes(FormatBytes(n)) == n for every n >= 0: 2147483648 is "2GB",
// 1536 is "1536B".
func FormatBytes(n int64) string {
	units := []struct {
		name string
		size int64
	}{{"PB", 1 << 50}, {"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}}
	if n > 0 {
		for _, u := range units {
			if n%u.size == 0 {
				return strconv.FormatInt(n/u.size, 10) + u.name
			}
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

var durationUnits = map[string]time.Duration{
	"":             time.Millisecond,
	"ms":           time.Millisecond,
	"millis":       time.Millisecond,
	"millisecond":  time.Millisecond,
	"milliseconds": time.Millisecond,
	"s":            time.Second,
	"sec":          time.Second,
	"secs":         time.Second,
	"second":       time.Second,
	"seconds":      time.Second,
	"m":            time.Minute,
	"min":          time.Minute,
	"mins":         time.Minute,
	"minute":       time.Minute,
	"minutes":      time.Minute,
	"h":            time.Hour,
	"hr":           time.Hour,
	"hrs":          time.Hour,
	"hour":         time.Hour,
	"hours":        time.Hour,
	"d":            24 * time.Hour,
	"day":          24 * time.Hour,
	"days":         24 * time.Hour,
}

// Never is what ParseDuration returns for "-1": an interval that never
// elapses, such as a metadata sync interval that disables syncing. Callers
// test for it with d < 0.
const Never time.Duration = -time.Millisecond

// ParseDuration parses a duration in Alluxio's syntax: a non-negative
// number, possibly with a fraction, followed by an optional unit ms, s/sec,
// m/min, h/hour or d/day (any case, plurals accepted). A plain number is
// milliseconds. "-1" returns Never. Errors wrap syscall.EINVAL, or
// syscall.ERANGE on overflow.
func ParseDuration(s string) (time.Duration, error) {
	if strings.TrimSpace(s) == "-1" {
		return Never, nil
	}
	num, unit, err := splitNumber(s)
	if err != nil {
		return 0, fmt.Errorf("conf: invalid duration %q: %w", s, err)
	}
	mult, ok := durationUnits[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("conf: invalid duration %q: unknown unit %q: %w", s, unit, syscall.EINVAL)
	}
	n, ok := scale(num, int64(mult))
	if !ok {
		return 0, fmt.Errorf("conf: duration %q is too long: %w", s, syscall.ERANGE)
	}
	return time.Duration(n), nil
}

// maxDigits bounds the number part so that absurd inputs fail fast.
const maxDigits = 64

// splitNumber splits "  1.5 GB " into "1.5" and "GB". The number is ASCII
// digits with at most one '.', and at least one digit.
func splitNumber(s string) (num, unit string, err error) {
	s = strings.TrimSpace(s)
	i, digits, dot := 0, 0, false
scan:
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			break scan
		}
	}
	if digits == 0 {
		return "", "", fmt.Errorf("no number: %w", syscall.EINVAL)
	}
	if i > maxDigits {
		return "", "", fmt.Errorf("number too long: %w", syscall.ERANGE)
	}
	return s[:i], strings.TrimSpace(s[i:]), nil
}

// scale returns floor(num * mult) if it fits an int64.
func scale(num string, mult int64) (int64, bool) {
	if strings.HasSuffix(num, ".") {
		num += "0"
	}
	if strings.HasPrefix(num, ".") {
		num = "0" + num
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, false
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	q := new(big.Int).Quo(r.Num(), r.Denom())
	if !q.IsInt64() {
		return 0, false
	}
	return q.Int64(), true
}

// HumanBytes writes a byte count with a binary unit and two decimals, as
// the CLI and the web UI show sizes: 512B, 1.50KB, 64.00MB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.2f%cB", float64(n)/float64(div), "KMGTPE"[exp])
}
