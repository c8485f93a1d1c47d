package conf

import (
	"fmt"
	"github.com/alluxio-go/alluxio/ufs"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the validated configuration of one process. It is built once
// by Load, never changes afterwards, and is safe for concurrent use. Pass
// it down explicitly.
type Config struct {
	values    map[string]string // expanded; enums upper-cased
	secret    map[string]bool   // value includes a credential through ${}
	origins   map[string]origin
	typed     map[string]any // parsed values of table keys
	warnings  []string
	tiers     []Tier
	envFile   map[string]string
	lookupEnv func(string) (string, bool)
}

// Warnings returns what Load found suspicious but not fatal: unknown keys
// (each naming the key and where it was set), skipped lines of
// alluxio-env.sh, deprecated variables, malformed values of unused tier
// levels. Callers log them at start.
func (c *Config) Warnings() []string {
	return slices.Clone(c.warnings)
}

// Get returns the expanded value of key, or "" when it is unset. Unknown
// keys (such as under-store options) are returned as set. Credentials are
// returned in clear: use Masked for display.
func (c *Config) Get(key string) string {
	return c.values[canonicalKey(key)]
}

// Lookup is Get that also reports whether key is set at all.
func (c *Config) Lookup(key string) (string, bool) {
	v, ok := c.values[canonicalKey(key)]
	return v, ok
}

// Source tells which layer set key and, for files, the file path, for the
// environment, the variable. A key that is not set reports Default and "".
func (c *Config) Source(key string) (Source, string) {
	o, ok := c.origins[canonicalKey(key)]
	if !ok {
		return Default, ""
	}
	switch o.src {
	case EnvFile, SiteFile:
		return o.src, o.file
	case Environment:
		return o.src, o.variable
	}
	return o.src, ""
}

// Keys returns every key that is set or has a default, sorted.
func (c *Config) Keys() []string {
	return sortedKeys(c.values)
}

// WithPrefix returns the keys that start with prefix, with the prefix
// removed, and their values in clear; e.g. the root mount's under-store
// options under "alluxio.master.mount.table.root.option.".
func (c *Config) WithPrefix(prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range c.values {
		if rest, ok := strings.CutPrefix(k, prefix); ok && rest != "" {
			out[rest] = v
		}
	}
	return out
}

// Masked returns the value of key fit for display: Mask for a credential
// (or a value that includes one), and URIs with the password part of their
// user info hidden.
func (c *Config) Masked(key string) string {
	key = canonicalKey(key)
	v, ok := c.values[key]
	if !ok || v == "" {
		return v
	}
	if IsSecret(key) || c.secret[key] {
		return Mask
	}
	return ufs.RedactWith(v, Mask)
}

// EnvValue returns an environment variable as the scripts see it: the
// process environment first, then the assignments of alluxio-env.sh (e.g.
// ALLUXIO_LOGS_DIR).
func (c *Config) EnvValue(name string) (string, bool) {
	if c.lookupEnv != nil {
		if v, ok := c.lookupEnv(name); ok {
			return v, true
		}
	}
	v, ok := c.envFile[name]
	return v, ok
}

// property returns the table entry of key or panics: asking for a key that
// is not in the table is a programming error.
func property(key string, kinds ...Kind) (string, *Property) {
	key = canonicalKey(key)
	p, ok := byKey[key]
	if !ok {
		panic(fmt.Sprintf("conf: %q is not a known property", key))
	}
	if len(kinds) > 0 && !slices.Contains(kinds, p.Kind) {
		panic(fmt.Sprintf("conf: %s is a %v property, read as %v", key, p.Kind, kinds))
	}
	return key, p
}

func typedValue[T any](c *Config, key string, kinds ...Kind) T {
	key, _ = property(key, kinds...)
	v, _ := c.typed[key].(T)
	return v
}

// String returns the value of a known property of any kind ("" if unset).
func (c *Config) String(key string) string {
	key, _ = property(key)
	return c.values[key]
}

// Strings returns the comma-separated items of a known property of any
// kind, trimmed, without empty ones.
func (c *Config) Strings(key string) []string {
	key, _ = property(key)
	return splitList(c.values[key])
}

// Int returns an int, port or octal property (0 if unset).
func (c *Config) Int(key string) int {
	return typedValue[int](c, key, KindInt, KindPort, KindOctal)
}

// Bool returns a bool property (false if unset).
func (c *Config) Bool(key string) bool {
	return typedValue[bool](c, key, KindBool)
}

// Bytes returns a size property in bytes (0 if unset).
func (c *Config) Bytes(key string) int64 {
	return typedValue[int64](c, key, KindBytes)
}

// Duration returns a duration property (0 if unset); Never (negative) for
// "-1" where the property allows it.
func (c *Config) Duration(key string) time.Duration {
	return typedValue[time.Duration](c, key, KindDuration)
}

// Ratio returns a ratio property (0 if unset).
func (c *Config) Ratio(key string) float64 {
	return typedValue[float64](c, key, KindRatio)
}

// Float returns a number or ratio property (0 if unset).
func (c *Config) Float(key string) float64 {
	return typedValue[float64](c, key, KindFloat, KindRatio)
}

// MasterRPCAddr is alluxio.master.hostname:alluxio.master.rpc.port.
func (c *Config) MasterRPCAddr() string {
	return net.JoinHostPort(c.String("alluxio.master.hostname"), strconv.Itoa(c.Int("alluxio.master.rpc.port")))
}

// MasterRPCAddrs lists every master's RPC address: alluxio.master.rpc.addresses
// when set, else MasterRPCAddr alone.
func (c *Config) MasterRPCAddrs() []string {
	if addrs := c.Strings("alluxio.master.rpc.addresses"); len(addrs) > 0 {
		return addrs
	}
	return []string{c.MasterRPCAddr()}
}

// JournalAddrs lists every master's Raft peer address:
// alluxio.master.embedded.journal.addresses when set, else
// alluxio.master.hostname:alluxio.master.embedded.journal.port alone.
func (c *Config) JournalAddrs() []string {
	if addrs := c.Strings("alluxio.master.embedded.journal.addresses"); len(addrs) > 0 {
		return addrs
	}
	return []string{net.JoinHostPort(c.String("alluxio.master.hostname"),
		strconv.Itoa(c.Int("alluxio.master.embedded.journal.port")))}
}

// WorkerRPCAddr is alluxio.worker.hostname:alluxio.worker.rpc.port.
func (c *Config) WorkerRPCAddr() string {
	return net.JoinHostPort(c.String("alluxio.worker.hostname"), strconv.Itoa(c.Int("alluxio.worker.rpc.port")))
}
