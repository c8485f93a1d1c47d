package ufs

import (
	"fmt"
	"math/big"
	"strings"
	"syscall"
	"time"
)

// RootOptionPrefix starts the root mount's options in
// alluxio-site.properties (alluxio.master.mount.table.root.option.<key>).
// Options stores that read keys through Options may carry it; it is
// stripped.
const RootOptionPrefix = "alluxio.master.mount.table.root.option."

// Options are a mount's options as Alluxio reads them: keys compare
// without regard to case or surrounding space, values are trimmed, and
// the root mount's prefix is ignored. Errors about a key name it as the
// user spelled it.
type Options struct {
	vals  map[string]string // lower-cased key -> trimmed value
	given map[string]string // lower-cased key -> key as given
}

// NewOptions reads a mount's option map.
func NewOptions(options map[string]string) Options {
	o := Options{vals: map[string]string{}, given: map[string]string{}}
	for k, v := range options {
		lk := strings.ToLower(strings.TrimSpace(k))
		lk = strings.TrimPrefix(lk, RootOptionPrefix)
		o.vals[lk] = strings.TrimSpace(v)
		o.given[lk] = k
	}
	return o
}

// Lookup returns the first of keys that is set, with its value; key is
// the name as the caller spelled it, for error messages.
func (o Options) Lookup(keys ...string) (key, value string, ok bool) {
	for _, k := range keys {
		if v, ok := o.vals[strings.ToLower(k)]; ok {
			return k, v, true
		}
	}
	return "", "", false
}

// Matching returns the options whose key (lower-cased, without the root
// prefix) keep says to keep, by that key.
func (o Options) Matching(keep func(key string) bool) map[string]string {
	out := map[string]string{}
	for k, v := range o.vals {
		if keep(k) {
			out[k] = v
		}
	}
	return out
}

// Get returns the value of key, "" when it is not set.
func (o Options) Get(key string) string {
	return o.vals[strings.ToLower(key)]
}

// CheckNamespace reports an option that starts with namespace (such as
// "alluxio.underfs.s3.") but is none of known: most likely a misspelt key.
// The error wraps EINVAL and names the key as the user wrote it.
func (o Options) CheckNamespace(namespace string, known ...string) error {
	ok := map[string]bool{}
	for _, k := range known {
		ok[strings.ToLower(k)] = true
	}
	ns := strings.ToLower(namespace)
	var bad []string
	for lk := range o.vals {
		if strings.HasPrefix(lk, ns) && !ok[lk] {
			bad = append(bad, lk)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	first := bad[0]
	for _, b := range bad[1:] {
		if b < first {
			first = b
		}
	}
	return fmt.Errorf("unknown option %q: %w", o.given[first], syscall.EINVAL)
}

// ParseBool accepts true/false in any case, as Alluxio does. The error
// names key.
func ParseBool(key, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("option %s=%q: want true or false: %w", key, v, syscall.EINVAL)
}

// ParseDuration reads a Go duration ("1m30s") or Alluxio's syntax: a
// number with an optional unit ms, s/sec, m/min, h/hour, d/day; a plain
// number is milliseconds. Negative durations are refused. The error names
// key.
func ParseDuration(key, v string) (time.Duration, error) {
	if d, err := time.ParseDuration(strings.TrimSpace(v)); err == nil && d >= 0 {
		return d, nil
	}
	num, unit := splitNumber(v)
	mult, ok := map[string]time.Duration{
		"": time.Millisecond, "ms": time.Millisecond, "millis": time.Millisecond,
		"millisecond": time.Millisecond, "milliseconds": time.Millisecond,
		"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
		"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
		"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
		"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	}[strings.ToLower(unit)]
	n, fits := scale(num, int64(mult))
	if num == "" || !ok || !fits {
		return 0, fmt.Errorf("option %s=%q: want a duration such as 60s or 60000: %w", key, v, syscall.EINVAL)
	}
	return time.Duration(n), nil
}

// ParseBytes reads a size in Alluxio's syntax: a number with an optional
// unit B, KB, MB, GB, TB (or K, M, G, T) in multiples of 1024. The error
// wraps EINVAL; the caller names the key.
func ParseBytes(v string) (int64, error) {
	num, unit := splitNumber(v)
	mult, ok := map[string]int64{
		"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
		"g": 1 << 30, "gb": 1 << 30, "t": 1 << 40, "tb": 1 << 40,
	}[strings.ToLower(unit)]
	n, fits := scale(num, mult)
	if num == "" || !ok || !fits {
		return 0, fmt.Errorf("want a size such as 64MB: %w", syscall.EINVAL)
	}
	return n, nil
}

// splitNumber splits " 1.5 GB" into "1.5" and "GB"; num is "" when s does
// not start with a number.
func splitNumber(s string) (num, unit string) {
	s = strings.TrimSpace(s)
	i, digits, dot := 0, 0, false
	for ; i < len(s) && i < 64; i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			digits++
			continue
		}
		if c == '.' && !dot {
			dot = true
			continue
		}
		break
	}
	if digits == 0 {
		return "", s
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// scale returns floor(num * mult) if it fits an int64.
func scale(num string, mult int64) (int64, bool) {
	r, ok := new(big.Rat).SetString(strings.TrimSuffix(num, "."))
	if !ok {
		return 0, false
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	q := new(big.Int).Quo(r.Num(), r.Denom())
	return q.Int64(), q.IsInt64()
}

// secretWords mark a key whose value is a credential wherever they appear
// in it.
// (access.key and access_key are words that end in key.)
var secretWords = []string{"secret", "password", "accesskey", "token", "credential"}

// IsSecretOption reports whether an option or property key names a
// credential, whose value must never be shown in a listing, a log line or
// an error: a key that holds one of secretWords, or a word (split at
// anything but letters and digits) that ends in "key" (private_key,
// aws.session.key) or is pass, passwd or pwd.
func IsSecretOption(key string) bool {
	k := strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	words := strings.FieldsFunc(k, func(r rune) bool { return !('a' <= r && r <= 'z' || '0' <= r && r <= '9') })
	for _, w := range words {
		if strings.HasSuffix(w, "key") || w == "pass" || w == "passwd" || w == "pwd" {
			return true
		}
	}
	return false
}
